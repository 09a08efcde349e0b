import FathomAPI
import FathomCore
import FathomStorage
import Foundation
import Logging

/// A task's result as it is recorded: inline for the coordinator, or a reference to the result store.
struct RecordedResult {
    var inline: JSONValue?
    var reference: TaskResultReference?
}

extension FlowContext {
    /// Records a completed task's result: up to 64 KiB of JSON inline, larger ones in the result store. A result
    /// that does not encode, is over 256 MiB, or cannot be stored is not recorded (the task still completes, and
    /// a resumed attempt runs it again); the log says which.
    func storeResult<T>(_ value: T, taskRunID: TaskRunID, name: String, logger: Logger) async -> RecordedResult {
        guard T.self != Void.self, let encodable = value as? any Encodable else { return RecordedResult() }
        let data: Data
        do {
            data = try JSONEncoder().encode(encodable)
        } catch {
            logger.warning("task '\(name)': its result does not encode as JSON (\(error)); a resumed attempt runs it again")
            return RecordedResult()
        }
        if data.count <= TaskResultLimits.inline {
            return RecordedResult(inline: try? JSONDecoder().decode(JSONValue.self, from: data))  // cannot fail: JSONEncoder's output is JSON
        }
        guard data.count <= TaskResultLimits.stored else {
            logger.warning("task '\(name)': its result is \(data.count) bytes as JSON, over the \(TaskResultLimits.stored >> 20) MiB a result store keeps; it is not recorded, and a resumed attempt runs the task again. Write large data to a file and return its path.")
            return RecordedResult()
        }
        guard let resultStore else {
            logger.warning("task '\(name)': its result is \(data.count) bytes as JSON, over the 64 KiB the coordinator keeps, and this run has no result store; it is not recorded. Set \(TaskResultStores.variable) (an s3:// prefix or a path) or give the run a 'scratch' volume.")
            return RecordedResult()
        }
        do {
            let reference = try await resultStore.put(data, taskRunID: taskRunID)
            logger.info("task '\(name)': its result (\(data.count) bytes) is stored at \(reference.url)")
            return RecordedResult(reference: reference)
        } catch {
            logger.warning("task '\(name)': its result (\(data.count) bytes) could not be stored in \(resultStore.location): \(error); a resumed attempt runs the task again")
            return RecordedResult()
        }
    }

    /// The result a finished task of an earlier attempt recorded, as `T`; the failure says why it cannot be used.
    func storedValue<T>(_ entry: TaskCache.Entry, as type: T.Type) async -> Result<T, StoredResultProblem> {
        if T.self == Void.self, let void = () as? T { return .success(void) }
        guard let decodable = T.self as? any Decodable.Type else {
            return .failure(StoredResultProblem("its result type \(T.self) is not Codable, so it is not recorded"))
        }
        let data: Data
        if let reference = entry.resultRef {
            do {
                data = try await TaskResultStores.fetch(reference, store: resultStore)
            } catch {
                return .failure(StoredResultProblem("\(error)"))
            }
        } else if let json = entry.result, let encoded = try? JSONEncoder().encode(json) {  // a JSONValue always encodes
            data = encoded
        } else {
            return .failure(StoredResultProblem("its result was not recorded (it did not encode, or was too large to keep)"))
        }
        guard let value = try? JSONDecoder().decode(decodable, from: data) as? T else {  // the error's detail adds nothing the user can act on
            return .failure(StoredResultProblem("its recorded result does not decode as \(T.self)"))
        }
        return .success(value)
    }
}

/// Why a recorded result cannot be reused.
struct StoredResultProblem: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
