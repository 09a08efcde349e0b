import AsyncHTTPClient
import Foundation
import HTTPTypes
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

    /// A proxy's answer from upstream: its status, headers (without a length, which the body sets again) and body.
    struct Forwarded: Sendable {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: ByteBuffer

        var response: Response { Response(status: status, headers: headers, body: .init(byteBuffer: body)) }
    }

    /// Sends `request` (its body already read as `body`) to the same path on `upstream`. The limit is long: a proxy
    /// whose forward timed out would answer an error the client retries, and the tests count attempts.
    static func forward(_ request: Request, body: ByteBuffer, to upstream: String, timeout: TimeAmount = .seconds(120)) async throws -> Forwarded {
        var forward = HTTPClientRequest(url: upstream + request.uri.description)
        forward.method = .init(rawValue: request.method.rawValue)
        for field in request.headers where ![.contentLength, .transferEncoding].contains(field.name) && field.name.canonicalName != "host" {
            forward.headers.add(name: field.name.rawName, value: field.value)
        }
        forward.body = .bytes(body)
        let response = try await HTTPClient.shared.execute(forward, timeout: timeout)
        let answer = try await response.body.collect(upTo: 16 << 20)
        var headers = HTTPFields()
        for header in response.headers where header.name.lowercased() != "content-length" {
            if let name = HTTPField.Name(header.name) { headers[name] = header.value }
        }
        return Forwarded(status: .init(code: Int(response.status.code)), headers: headers, body: answer)
    }

    static func text(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
