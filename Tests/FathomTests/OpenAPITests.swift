import FathomServer
import Foundation
import Testing
import Yams

/// docs/openapi.yaml describes every route the server has, and nothing it lacks.
struct OpenAPITests {
    static var specPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi.yaml").path
    }

    func documentedRoutes() throws -> Set<String> {
        let text = try String(contentsOfFile: Self.specPath, encoding: .utf8)
        let document = try #require(try Yams.load(yaml: text) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: Any])
        var routes: Set<String> = []
        for (path, item) in paths {
            for method in (item as? [String: Any] ?? [:]).keys where ["get", "put", "post", "delete", "patch"].contains(method) {
                routes.insert("\(method.uppercased()) \(path)")
            }
        }
        return routes
    }

    func serverRoutes() throws -> Set<String> {
        let directory = TemporaryDirectory()
        let server = try FathomServer(configuration: ServerConfiguration(dataDirectory: directory.path))
        return Set(server.makeRouter().routes.map { route in
            let path = "/" + route.path.description.split(separator: "/").map { component in
                component.hasPrefix(":") ? "{\(component.dropFirst())}" : String(component)
            }.joined(separator: "/")
            return "\(route.method.rawValue) \(path)"
        })
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() throws {
        let documented = try documentedRoutes()
        let served = try serverRoutes()
        #expect(served.count >= 20)
        #expect(served.subtracting(documented).isEmpty, "routes missing from docs/openapi.yaml: \(served.subtracting(documented).sorted())")
        #expect(documented.subtracting(served).isEmpty, "documented routes the server lacks: \(documented.subtracting(served).sorted())")
    }
}
