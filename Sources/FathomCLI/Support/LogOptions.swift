import ArgumentParser
import Foundation
import Logging

/// `--log-format text|json` for the long-running commands (`server`, `agent`, `dev`).
struct LogOptions: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(name: .customLong("log-format"), help: "How the process logs to stderr: text, or json (one object per line).")
    var format: Format = .text

    /// Sends every logger of the process to stderr in the chosen format (once per process).
    func bootstrap() {
        LogBootstrap.once(format)
    }
}

private enum LogBootstrap {
    static let lock = NSLock()
    nonisolated(unsafe) static var done = false

    static func once(_ format: LogOptions.Format) {
        lock.lock()
        defer { lock.unlock() }
        guard !done else { return }
        done = true
        switch format {
        case .text: LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        case .json: LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        }
    }
}

/// Writes each record as one JSON object per line on stderr:
/// `{"ts":"…","level":"info","logger":"fathom.server","message":"…", …metadata}`.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    let write: @Sendable (String) -> Void

    public init(label: String, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        var object: [String: Any] = [:]
        for (key, value) in metadata.merging(explicit ?? [:], uniquingKeysWith: { _, new in new }) {
            object[key] = Self.plain(value)
        }
        object["ts"] = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        object["level"] = level.rawValue
        object["logger"] = label
        object["message"] = message.description
        object["source"] = source
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])  // cannot fail: the object holds strings only
        else { return }
        write(String(decoding: data, as: UTF8.self) + "\n")
    }

    static func plain(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let text): return text
        case .stringConvertible(let convertible): return convertible.description
        case .array(let values): return values.map(plain)
        case .dictionary(let values): return values.mapValues(plain)
        }
    }

    /// Writes the whole line to stderr at once, so lines from several threads do not interleave.
    public static let standardError: @Sendable (String) -> Void = { text in
        FileHandle.standardError.write(Data(text.utf8))
    }
}
