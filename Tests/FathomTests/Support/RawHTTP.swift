import AsyncHTTPClient
import FathomAPI
import Foundation
import NIOCore
import NIOHTTP1

/// Sends exactly the bytes a test wants, to check how the coordinator answers bad requests.
enum RawHTTP {
    struct Answer {
        var status: Int
        var body: String
        /// Header values by lowercase name (the last one when repeated).
        var headers: [String: String] = [:]
        var error: APIErrorBody? { try? APICoding.decode(APIErrorBody.self, from: Data(body.utf8)) }
    }

    /// A client that hands back redirects instead of following them (the web UI answers forms with 303s).
    static let withoutRedirects: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    static func send(_ method: HTTPMethod, _ url: String, body: String? = nil, headers: [String: String] = [:], timeout: TimeAmount = .seconds(30)) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            if !headers.keys.contains(where: { $0.lowercased() == "content-type" }) {
                request.headers.add(name: "Content-Type", value: "application/json")
            }
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await withoutRedirects.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 16 << 20)
        var fields: [String: String] = [:]
        for header in response.headers { fields[header.name.lowercased()] = header.value }
        return Answer(status: Int(response.status.code), body: String(buffer: bytes), headers: fields)
    }
}
