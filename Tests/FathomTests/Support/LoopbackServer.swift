import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// A small HTTP server on a free loopback port, for peers that moto cannot play: the ECS container
/// credentials endpoint, EC2 instance metadata, and a fault proxy that throttles.
final class LoopbackServer: Sendable {
    let url: String
    private let group: ServiceGroup
    private let runner: Task<Void, any Error>

    init(_ handle: @escaping @Sendable (Request) async throws -> Response) async throws {
        let router = Router()
        router.add(middleware: CatchAll(handle: handle))
        var logger = Logger(label: "test.loopback")
        logger.logLevel = .error
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        self.group = group
        runner = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        url = "http://127.0.0.1:\(await iterator.next() ?? 0)"
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await runner.value
    }

    struct CatchAll<Context: RequestContext>: RouterMiddleware {
        let handle: @Sendable (Request) async throws -> Response

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            try await handle(request)
        }
    }

    static func json(_ text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func text(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
