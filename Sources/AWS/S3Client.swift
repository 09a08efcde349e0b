import AsyncHTTPClient
import Foundation
import NIOHTTP1
import NIOCore

/// S3, REST-XML. Bodies are streamed from and to files; nothing is ever sent form-urlencoded.
public struct S3Client: Sendable {
    let client: AWSClient
    /// Files larger than this go up as multipart uploads.
    public var multipartThreshold: Int64 = 64 << 20
    /// The size of each part of a multipart upload.
    public var partSize: Int64 = 16 << 20
    /// Parts uploaded at once.
    public var partConcurrency = 4

    public init(client: AWSClient) {
        self.client = client
    }

    /// Path-style on custom endpoints (moto, LocalStack) and for names that are not DNS-safe; virtual-hosted on AWS.
    func request(
        _ operation: AWSOperation, _ method: HTTPMethod, bucket: String, key: String? = nil, query: [(String, String)] = [],
        headers: [(String, String)] = [], body: AWSBody = .empty
    ) -> AWSRequest {
        let keyPath = key.map { "/" + AWSURI.encodePath($0) } ?? ""
        let virtual = !client.configuration.hasCustomEndpoint(for: .s3) && Self.isDNSCompatible(bucket)
        var request = AWSRequest(
            service: .s3, operation: "s3:\(operation.name)", method: method,
            path: virtual ? (keyPath.isEmpty ? "/" : keyPath) : "/\(AWSURI.quote(bucket))\(keyPath)", query: query,
            headers: headers, body: body)
        if virtual { request.hostPrefix = bucket + "." }
        return request
    }

    static func isDNSCompatible(_ bucket: String) -> Bool {
        (3...63).contains(bucket.count) && !bucket.contains(".")
            && bucket.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" } && !bucket.hasPrefix("-")
    }

    public func createBucket(_ bucket: String) async throws {
        var body = AWSBody.empty
        if client.configuration.region != "us-east-1" {
            body = .data(Data("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>\(client.configuration.region)</LocationConstraint></CreateBucketConfiguration>".utf8))
        }
        _ = try await client.send(request(AWSOperation.S3.createBucket, .PUT, bucket: bucket, body: body), errors: .xml)
    }

    /// Uploads a file, as one PUT or (above ``multipartThreshold``) as a multipart upload.
    @discardableResult
    public func putObject(
        bucket: String, key: String, fromFile path: String, contentType: String = "application/octet-stream",
        metadata: [String: String] = [:]
    ) async throws -> String? {
        let size = try Self.fileSize(path)
        let headers = [("Content-Type", contentType)] + metadata.sorted { $0.key < $1.key }.map { ("x-amz-meta-\($0.key)", $0.value) }
        if size > multipartThreshold {
            return try await multipartUpload(bucket: bucket, key: key, path: path, size: size, headers: headers)
        }
        let response = try await client.send(
            request(AWSOperation.S3.putObject, .PUT, bucket: bucket, key: key, headers: headers, body: .file(path: path, offset: 0, length: size)),
            errors: .xml)
        return response.headers.first(name: "ETag")
    }

    func multipartUpload(bucket: String, key: String, path: String, size: Int64, headers: [(String, String)]) async throws -> String? {
        var create = request(AWSOperation.S3.createMultipartUpload, .POST, bucket: bucket, key: key, query: [("uploads", "")], headers: headers)
        create.isIdempotent = false  // a repeat leaves an upload behind that nobody completes
        let created = try await client.send(create, errors: .xml)
        guard let uploadID = XMLElement.parse(created.body)?.find("UploadId")?.text else {
            throw AWSError.malformedResponse(service: "s3", detail: "CreateMultipartUpload returned no UploadId")
        }
        do {
            let parts = try await uploadParts(bucket: bucket, key: key, path: path, size: size, uploadID: uploadID)
            let xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                + parts.map { "<Part><PartNumber>\($0.number)</PartNumber><ETag>\(XMLWriter.escape($0.etag))</ETag></Part>" }.joined()
                + "</CompleteMultipartUpload>"
            let completed = try await client.send(
                request(
                    AWSOperation.S3.completeMultipartUpload, .POST, bucket: bucket, key: key, query: [("uploadId", uploadID)],
                    headers: [("Content-Type", "application/xml")], body: .data(Data(xml.utf8))),
                errors: .xml)
            // S3 can answer 200 with an error document for CompleteMultipartUpload.
            if let root = XMLElement.parse(completed.body), root.name == "Error" {
                throw AWSError.service(AWSServiceError(
                    service: "s3", operation: "s3:CompleteMultipartUpload", code: root.string("Code") ?? "InternalError", message: root.string("Message") ?? "",
                    httpStatus: 200, requestID: root.string("RequestId")))
            }
            return XMLElement.parse(completed.body)?.find("ETag")?.text
        } catch {
            _ = try? await client.send(  // cleanup after a failed upload; the upload's own error is rethrown below
                request(AWSOperation.S3.abortMultipartUpload, .DELETE, bucket: bucket, key: key, query: [("uploadId", uploadID)]), errors: .xml)
            throw error
        }
    }

    func uploadParts(bucket: String, key: String, path: String, size: Int64, uploadID: String) async throws -> [(number: Int, etag: String)] {
        let partSize = max(self.partSize, 5 << 20)
        let count = Int((size + partSize - 1) / partSize)
        return try await withThrowingTaskGroup(of: (Int, String).self) { group in
            var results: [(number: Int, etag: String)] = []
            var next = 1
            func add(_ number: Int) {
                let offset = Int64(number - 1) * partSize
                let length = min(partSize, size - offset)
                let part = request(
                    AWSOperation.S3.uploadPart, .PUT, bucket: bucket, key: key,
                    query: [("partNumber", String(number)), ("uploadId", uploadID)],
                    body: .file(path: path, offset: offset, length: length))
                group.addTask {
                    let response = try await client.send(part, errors: .xml)
                    guard let etag = response.headers.first(name: "ETag") else {
                        throw AWSError.malformedResponse(service: "s3", detail: "UploadPart \(number) returned no ETag")
                    }
                    return (number, etag)
                }
            }
            while next <= min(count, partConcurrency) {
                add(next)
                next += 1
            }
            while let (number, etag) = try await group.next() {
                results.append((number, etag))
                if next <= count {
                    add(next)
                    next += 1
                }
            }
            return results.sorted { $0.number < $1.number }
        }
    }

    /// Uploads `data` as one PUT (small objects: task results, markers).
    public func putObject(bucket: String, key: String, data: Data, contentType: String = "application/octet-stream") async throws {
        _ = try await client.send(
            request(AWSOperation.S3.putObject, .PUT, bucket: bucket, key: key, headers: [("Content-Type", contentType)], body: .data(data)),
            errors: .xml)
    }

    /// A whole object in memory (at most 256 MiB, the client's answer limit).
    public func getObjectData(bucket: String, key: String) async throws -> Data {
        try await client.send(request(AWSOperation.S3.getObject, .GET, bucket: bucket, key: key), errors: .xml).body
    }

    /// Streams an object into `path` through a temporary name: a failed download leaves nothing there.
    @discardableResult
    public func getObject(bucket: String, key: String, toFile path: String) async throws -> Int64 {
        let temporary = path + ".partial-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let written = try await client.stream(request(AWSOperation.S3.getObject, .GET, bucket: bucket, key: key), errors: .xml) { response in
            guard FileManager.default.createFile(atPath: temporary, contents: nil),
                  let handle = FileHandle(forWritingAtPath: temporary)
            else { throw AWSError.malformedResponse(service: "s3", detail: "cannot write \(temporary)") }
            defer { try? handle.close() }
            var total: Int64 = 0
            for try await buffer in response.body {
                try handle.write(contentsOf: Data(buffer.readableBytesView))
                total += Int64(buffer.readableBytes)
            }
            if let expected = response.headers.first(name: "Content-Length").flatMap({ Int64($0) }), expected != total {
                throw AWSError.malformedResponse(service: "s3", detail: "GetObject \(key): got \(total) of \(expected) bytes")
            }
            return total
        }
        guard rename(temporary, path) == 0 else {
            throw AWSError.malformedResponse(service: "s3", detail: "cannot rename into \(path): errno \(errno)")
        }
        return written
    }

    /// The object's size, ETag and metadata, or nil if there is no such key.
    public func headObject(bucket: String, key: String) async throws -> S3ObjectInfo? {
        do {
            let response = try await client.send(request(AWSOperation.S3.headObject, .HEAD, bucket: bucket, key: key), errors: .xml)
            var metadata: [String: String] = [:]
            for header in response.headers where header.name.lowercased().hasPrefix("x-amz-meta-") {
                metadata[String(header.name.lowercased().dropFirst("x-amz-meta-".count))] = header.value
            }
            return S3ObjectInfo(
                key: key, size: Int64(response.headers.first(name: "Content-Length") ?? "") ?? 0,
                etag: response.headers.first(name: "ETag"), metadata: metadata)
        } catch let error as AWSError where error.serviceError?.httpStatus == 404 {
            return nil
        }
    }

    /// Every object under `prefix`, following continuation tokens (`pageSize` keys per call).
    public func listObjects(bucket: String, prefix: String = "", pageSize: Int = 1000) async throws -> [S3ObjectInfo] {
        var objects: [S3ObjectInfo] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix), ("max-keys", String(pageSize))]
            if let token { query.append(("continuation-token", token)) }
            let response = try await client.send(request(AWSOperation.S3.listObjectsV2, .GET, bucket: bucket, query: query), errors: .xml)
            guard let root = XMLElement.parse(response.body) else {
                throw AWSError.malformedResponse(service: "s3", detail: "ListObjectsV2 answer is not XML")
            }
            objects += root.all("Contents").map {
                S3ObjectInfo(key: $0.string("Key") ?? "", size: Int64($0.string("Size") ?? "") ?? 0, etag: $0.string("ETag"), metadata: [:])
            }
            token = root.string("IsTruncated") == "true" ? root.string("NextContinuationToken") : nil
        } while token != nil
        return objects
    }

    public func deleteObject(bucket: String, key: String) async throws {
        _ = try await client.send(request(AWSOperation.S3.deleteObject, .DELETE, bucket: bucket, key: key), errors: .xml)
    }

    static func fileSize(_ path: String) throws -> Int64 {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.size] as? NSNumber)?.int64Value ?? 0
    }
}

/// What S3 says about an object.
public struct S3ObjectInfo: Sendable, Equatable {
    public var key: String
    public var size: Int64
    public var etag: String?
    public var metadata: [String: String]
}
