import Crypto
import FathomAPI
import FathomCore
import Foundation
import Synchronization

/// Cache keys for a run's tasks, and what a resumed attempt may reuse: the finished task runs of the attempt it
/// resumes, by key.
///
/// A task's key is the SHA-256 of its name, which occurrence of that name it is in the run (the first task named
/// "sort" is 1, the next 2, in start order), its declared inputs as sorted JSON, and the code version: the task's
/// `cacheVersion` if the author set one, else the bundle's sha256. So a resumed attempt of the same bundle reuses
/// every finished task it asks for again with the same inputs, and a new bundle reuses nothing unless the author
/// pins `cacheVersion`.
final class TaskCache: Sendable {
    /// A finished task of the earlier attempt.
    struct Entry: Sendable {
        var result: JSONValue?
        /// Where a result too large for the coordinator was kept.
        var resultRef: TaskResultReference?
        /// The files the task wrote, as they were when it completed.
        var outputs: [TaskOutputFile]
        /// The run whose task produced the result (through a chain of resumes, the first).
        var source: FlowRunID
    }

    /// The bundle's sha256, the code version of tasks without their own `cacheVersion`.
    let bundleVersion: String
    private let entries: [String: Entry]
    private let occurrences = Mutex<[String: Int]>([:])

    init(bundleVersion: String, entries: [String: Entry] = [:]) {
        self.bundleVersion = bundleVersion
        self.entries = entries
    }

    /// The finished task runs of `earlier`, by cache key: Completed ones and those that were Cached themselves.
    convenience init(bundleVersion: String, resuming earlier: FlowRunID, taskRuns: [TaskRunUpdate]) {
        var entries: [String: Entry] = [:]
        for taskRun in taskRuns where taskRun.state == .completed || taskRun.state == .cached {
            guard let key = taskRun.cacheKey else { continue }
            entries[key] = Entry(result: taskRun.result, resultRef: taskRun.resultRef, outputs: taskRun.outputs ?? [], source: taskRun.cachedFrom ?? earlier)
        }
        self.init(bundleVersion: bundleVersion, entries: entries)
    }

    /// How many finished tasks there are to reuse.
    var reusableCount: Int { entries.count }

    /// The key of the next task named `name`; counts the occurrence.
    func nextKey(name: String, inputs: (any Encodable & Sendable)?, cacheVersion: String?) throws -> String {
        let occurrence = occurrences.withLock { counts in
            let next = counts[name, default: 0] + 1
            counts[name] = next
            return next
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let inputText = try inputs.map { String(decoding: try encoder.encode($0), as: UTF8.self) } ?? ""
        var hasher = SHA256()
        for part in [name, String(occurrence), inputText, cacheVersion ?? bundleVersion] {
            hasher.update(data: Data(part.utf8))
            hasher.update(data: Data([0]))
        }
        return Hex.lowercase(hasher.finalize())
    }

    /// The earlier attempt's finished task with `key`, if there is one.
    func entry(_ key: String) -> Entry? { entries[key] }
}

/// The files a task declares as its outputs.
enum TaskOutputs {
    /// Each declared file as it is now; throws naming the first that is missing.
    static func record(_ paths: [String], task: String) throws -> [TaskOutputFile] {
        try paths.map { path in
            guard let file = current(path) else {
                throw TaskOutputError(description: "task '\(task)' declared the output \(path), which it did not write")
            }
            return file
        }
    }

    /// Why the recorded files cannot be reused, or nil when every one is there as it was.
    static func staleness(of recorded: [TaskOutputFile]) -> String? {
        for file in recorded {
            guard let now = current(file.path) else { return "its output \(file.path) is gone" }
            if now.size != file.size { return "its output \(file.path) changed size (\(file.size) → \(now.size) bytes)" }
            if now.modifiedNanoseconds != file.modifiedNanoseconds {
                return "its output \(file.path) was modified since it was recorded"
            }
        }
        return nil
    }

    /// A regular file's size and modification time; nil when there is none at `path`.
    static func current(_ path: String) -> TaskOutputFile? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),  // no file: nil is the answer
              attributes[.type] as? FileAttributeType == .typeRegular,
              let size = (attributes[.size] as? NSNumber)?.int64Value, let modified = attributes[.modificationDate] as? Date,
              let nanoseconds = Int64(exactly: (modified.timeIntervalSince1970 * 1e9).rounded())
        else { return nil }
        return TaskOutputFile(path: path, size: size, modifiedNanoseconds: nanoseconds)
    }
}

/// A task did not write a file it declared as an output.
struct TaskOutputError: Error, CustomStringConvertible {
    var description: String
}
