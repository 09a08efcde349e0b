import FathomCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A sort's checkpoint in its temporary directory (on the volume): the sorted runs it finished, and how far into
/// its input they reach, in a manifest next to them.
///
/// The directory is named after a key of the inputs' fingerprints (size, modification time, first and last MiB)
/// and the sort options, so a sort started again over the same input with the same options finds it, reuses the
/// runs and reads only the rest. The manifest is replaced (written aside, then renamed) after each chunk's runs and
/// after each intermediate merge, before the runs it supersedes are removed; so whenever the process dies, the
/// manifest names only complete files. A lock keeps two sorts of the same input from sharing one directory (the
/// second gets a private one). The directory is removed when the sort succeeds and kept when it fails.
final class SortCheckpoint: MergeProgressRecord, @unchecked Sendable {
    struct Manifest: Codable, Equatable {
        var format = 1
        var key: String
        /// Bytes of input, as the sort reads it, whose lines are all in `runs`.
        var consumed = 0
        /// Whether `runs` hold the whole input (the sort was merging).
        var inputDone = false
        /// Chunks spilled so far; names new runs.
        var chunks = 0
        /// Intermediate merges so far; names their outputs.
        var merges = 0
        var runs: [Run] = []
        /// The final merge's completed ranges in its partial output, for its cut of the runs.
        var merge: MergeProgress?

        struct MergeProgress: Codable, Equatable {
            var parts: Int
            var cutHash: String
            var done: [Int]
        }

        struct Run: Codable, Equatable {
            var name: String
            var size: Int
            var samples: [Int]
        }
    }

    static let manifestName = "manifest.json"
    static let lockName = "lock"

    let directory: ScratchDirectory
    let inputs: [InputFingerprint]
    private(set) var manifest: Manifest
    /// What was reused or why an earlier checkpoint was not, for the sort's summary.
    let note: String?
    private let lock: Int32
    /// Serializes manifest writes from the final merge's threads.
    private let writing = NSLock()
    /// The final merge's partial output (beside the output, so it can be renamed into place), and whether it was
    /// there before this process opened it.
    var mergeOutput: (path: String, existed: Bool)?
    /// Output bytes of the final merge's ranges taken as complete from the record.
    private(set) var mergeReusedBytes = 0

    /// Where the final merge into `output` writes until it is complete.
    static func partialOutputPath(for output: String) -> String {
        hiddenSibling(of: output, suffix: ".fathom-sort-partial")
    }

    /// Reuses or starts the checkpoint of this sort under `parent`. Nil when the input cannot be checkpointed
    /// (standard input or another non-regular file) or another sort of the same input holds the checkpoint.
    static func open(inputs paths: [String], options: SortOptions, under parent: String) throws -> SortCheckpoint? {
        guard !paths.isEmpty, !paths.contains("-") else { return nil }
        let inputs = try paths.map { try InputFingerprint(path: $0) }
        let key = try Self.key(inputs: inputs, options: options)
        let directory = try ScratchDirectory(named: "\(parent)/.fathom-sort-\(key.prefix(24))")
        directory.keep = true
        let lock = Glibc.open(directory.path + "/" + lockName, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard lock >= 0 else { throw ToolkitError.io("create", directory.path + "/" + lockName, errno) }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            close(lock)
            return nil
        }
        return try SortCheckpoint(directory: directory, inputs: inputs, key: key, lock: lock)
    }

    private init(directory: ScratchDirectory, inputs: [InputFingerprint], key: String, lock: Int32) throws {
        self.directory = directory
        self.inputs = inputs
        self.lock = lock
        let total = inputs.reduce(0) { $0 + $1.sortedLength }
        var note: String?
        var manifest = Manifest(key: key)
        do {
            if let stored = try Self.load(directory.path, key: key, total: total) {
                manifest = stored
                note = "resumed from the checkpoint in \(directory.path): \(stored.runs.count) sorted runs cover "
                    + "\(ByteSize.format(stored.consumed)) of \(ByteSize.format(total)) of input"
            }
        } catch let problem as CheckpointProblem {
            note = "the checkpoint in \(directory.path) was not used (\(problem.reason)); sorting from the start"
        }
        self.manifest = manifest
        self.note = note
        let keep = Set(manifest.runs.map(\.name) + [Self.lockName, Self.manifestName])
        for name in try directory.names() where !keep.contains(name) {
            try TreeRemover.remove(directory.path + "/" + name)
        }
        if manifest.runs.isEmpty { try write() }
    }

    deinit {
        close(lock)
    }

    /// The key of a sort: its options and its inputs' fingerprints.
    static func key(inputs: [InputFingerprint], options: SortOptions) throws -> String {
        struct Identity: Encodable {
            var format = 1
            var options: SortOptions
            var inputs: [InputFingerprint]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return XXHash64.hex128(Array(try encoder.encode(Identity(options: options, inputs: inputs))))
    }

    /// The runs the checkpoint holds, in order.
    var runs: [SortedRun] {
        manifest.runs.map { SortedRun(path: directory.path + "/" + $0.name, size: $0.size, samples: $0.samples) }
    }

    /// The path for the next chunk's runs (the chunk number and the part).
    func chunkRunPath(part: Int) -> String { "\(directory.path)/run-\(manifest.chunks)-\(part)" }

    /// The path for the next intermediate merge's output.
    func nextMergePath() -> String { "\(directory.path)/merge-\(manifest.merges)" }

    /// Records a spilled chunk: its runs, the input bytes it consumed, and whether the input is done.
    func recordChunk(_ runs: [SortedRun], consumed: Int, inputDone: Bool) throws {
        manifest.runs += runs.map(Self.entry)
        manifest.consumed += consumed
        manifest.chunks += 1
        manifest.inputDone = inputDone
        try write()
    }

    /// Records that the input ended with no further lines.
    func recordInputDone() throws {
        guard !manifest.inputDone else { return }
        manifest.inputDone = true
        try write()
    }

    /// Records an intermediate merge: `merged` replaces the runs it was made of (consecutive in the manifest),
    /// which the caller removes only after this returns.
    func recordMerge(of group: [SortedRun], into merged: SortedRun) throws {
        let names = group.map { ($0.path as NSString).lastPathComponent }
        guard let first = manifest.runs.firstIndex(where: { $0.name == names.first }),
              Array(manifest.runs[first..<min(manifest.runs.count, first + names.count)].map(\.name)) == names
        else { throw ToolkitError.refused("the sort's checkpoint lost track of its runs (merging \(names.joined(separator: ", ")))") }
        manifest.runs.replaceSubrange(first..<(first + names.count), with: [Self.entry(merged)])
        manifest.merges += 1
        try write()
    }

    // MARK: The final merge

    func completedParts(parts: Int, cutHash: String, offsets: [Int]) throws -> Set<Int> {
        try writing.withLock {
            var size = -1
            if let output = mergeOutput, output.existed {
                var info = stat()
                if lstat(output.path, &info) == 0 { size = Int(info.st_size) }
            }
            if let merge = manifest.merge, merge.parts == parts, merge.cutHash == cutHash,
               merge.done.allSatisfy({ (0..<parts).contains($0) && offsets[$0 + 1] <= size })
            {
                mergeReusedBytes = Set(merge.done).reduce(0) { $0 + offsets[$1 + 1] - offsets[$1] }
                return Set(merge.done)
            }
            manifest.merge = Manifest.MergeProgress(parts: parts, cutHash: cutHash, done: [])
            try write()
            return []
        }
    }

    func partCompleted(_ part: Int) throws {
        try writing.withLock {
            manifest.merge?.done.append(part)
            try write()
        }
    }

    /// The sort succeeded: the directory goes when released.
    func finish() {
        directory.keep = false
    }

    /// The sort failed: the directory stays for a later run unless it holds no work.
    func abandon() {
        directory.keep = !manifest.runs.isEmpty
    }

    private static func entry(_ run: SortedRun) -> Manifest.Run {
        Manifest.Run(name: (run.path as NSString).lastPathComponent, size: run.size, samples: run.samples)
    }

    private func write() throws {
        try CheckpointFile.write(manifest, to: directory.path + "/" + Self.manifestName)
    }

    private struct CheckpointProblem: Error {
        var reason: String
    }

    /// The stored manifest when there is one; throws ``CheckpointProblem`` when it cannot be trusted.
    private static func load(_ directory: String, key: String, total: Int) throws -> Manifest? {
        let stored: Manifest?
        do {
            stored = try CheckpointFile.read(Manifest.self, from: directory + "/" + manifestName)
        } catch let unreadable as CheckpointFile.Unreadable {
            throw CheckpointProblem(reason: unreadable.reason)
        }
        guard let manifest = stored else { return nil }
        guard manifest.format == 1, manifest.key == key else { throw CheckpointProblem(reason: "its manifest is for another input") }
        guard (0...total).contains(manifest.consumed), manifest.chunks >= 0, manifest.merges >= 0 else {
            throw CheckpointProblem(reason: "its manifest's counts are out of range")
        }
        guard !manifest.runs.isEmpty else { return nil }
        for run in manifest.runs {
            guard !run.name.isEmpty, run.name.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }),
                  run.name != lockName
            else { throw CheckpointProblem(reason: "a run is named '\(run.name)'") }
            var info = stat()
            guard lstat(directory + "/" + run.name, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                throw CheckpointProblem(reason: "run \(run.name) is missing")
            }
            guard Int(info.st_size) == run.size else {
                throw CheckpointProblem(reason: "run \(run.name) is \(info.st_size) bytes, \(run.size) recorded")
            }
            guard zip(run.samples, run.samples.dropFirst()).allSatisfy({ $0 < $1 }), run.samples.allSatisfy({ (0..<max(1, run.size)).contains($0) }) else {
                throw CheckpointProblem(reason: "run \(run.name) has samples out of order")
            }
        }
        return manifest
    }
}
