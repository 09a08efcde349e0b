import FathomAPI
import FathomCore
import FathomStorage
import Foundation
import Hummingbird
import NIOCore

/// `/api/v1/flows` and `/api/v1/bundles`.
struct FlowRoutes {
    let coordinator: Coordinator

    func add(to group: RouterGroup<BasicRequestContext>) {
        group.post("flows") { request, _ in
            let body = try await HTTPJSON.decode(RegisterFlowsRequest.self, from: request)
            return try HTTPJSON.response(RegisterFlowsResponse(versions: try await coordinator.register(body)), status: .created)
        }
        group.get("flows") { _, _ in
            try HTTPJSON.response(try await coordinator.flows())
        }
        group.get("flows/:name") { _, context in
            try HTTPJSON.response(try await coordinator.flow(named: try context.parameters.require("name")))
        }
        group.get("flows/:name/usage") { request, context in
            let days = try request.query("days", default: 30, in: 1...Coordinator.maxUsageDays)
            return try HTTPJSON.response(try await coordinator.flowUsage(try context.parameters.require("name"), days: days))
        }
        group.put("bundles/:sha256") { request, context in
            try await uploadBundle(request, sha256: try context.parameters.require("sha256"))
        }
        group.get("bundles/:sha256") { _, context in
            try await downloadBundle(sha256: try context.parameters.require("sha256"))
        }
    }

    /// Streams the body into the storage, hashing it on the way; stored only if its hash matches the URL's.
    /// Memory stays bounded by a chunk, whatever the bundle's size.
    func uploadBundle(_ request: Request, sha256: String) async throws -> Response {
        guard StorageError.isValidSHA256(sha256) else {
            throw APIError(
                .badRequest, code: "invalid_sha256", message: StorageError.invalidHash(sha256).description, field: "sha256")
        }
        let limit = coordinator.settings.maxBundleBytes
        let tooLarge = APIError(
            .contentTooLarge, code: "bundle_too_large", message: "the bundle is larger than this coordinator accepts (\(limit) bytes); nothing was stored",
            field: "body", fix: "Make the bundle smaller (a release build, stripped), or start the server with a larger --max-bundle-size.")
        if let declared = request.headers[.contentLength].flatMap({ Int64($0) }), declared > limit { throw tooLarge }
        let size: Int64
        do {
            size = try await coordinator.storage.store(chunks: request.body, sha256: sha256, maxBytes: limit)
        } catch StorageError.tooLarge {
            throw tooLarge
        } catch StorageError.hashMismatch(_, let actual, _) {
            throw APIError(
                .unprocessableContent, code: "hash_mismatch",
                message: "bundle hash mismatch: the URL says sha256 \(sha256) but the uploaded bytes hash to \(actual); nothing was stored",
                field: "sha256", fix: "Upload the file whose sha256 is in the URL.")
        }
        return try HTTPJSON.response(
            StoredBundleInfo(sha256: sha256, size: size, storageURL: coordinator.storage.url(forSHA256: sha256)), status: .created)
    }

    /// Streams the stored bundle in bounded chunks, with its length announced.
    func downloadBundle(sha256: String) async throws -> Response {
        guard StorageError.isValidSHA256(sha256), let size = try await coordinator.storage.size(sha256: sha256) else {
            throw APIError.notFound("bundle", sha256, fix: "Register the flow again with 'fathom register'.")
        }
        let storage = coordinator.storage
        let body = ResponseBody(contentLength: Int(clamping: size)) { writer in
            try await storage.read(sha256: sha256) { chunk in try await writer.write(chunk) }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: body)
    }
}
