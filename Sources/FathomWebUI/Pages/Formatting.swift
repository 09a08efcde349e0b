import FathomAPI
import FathomCore
import FathomECS
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How the pages write times, durations and ids.
enum Formatting {
    /// `2026-11-29 11:28:34 UTC`. Built from `gmtime_r`: a run page formats one per log line.
    static func time(_ date: Date?) -> String {
        guard let date else { return "" }
        // A stored time can be anything; gmtime_r covers years 0 to 9999 here.
        let since1970 = date.timeIntervalSince1970
        guard since1970.isFinite, abs(since1970) < 2.5e11 else { return "\(since1970) s after 1970" }
        var seconds = time_t(since1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
    }

    /// `850 ms`, `12.4 s`, `3 min 5 s`, `2 h 14 min`.
    static func duration(_ seconds: TimeInterval) -> String {
        let seconds = seconds.isNaN ? 0 : max(0, seconds)
        if seconds < 1 { return "\(Int(seconds * 1000)) ms" }
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let whole = Int(saturating: seconds)
        if seconds < 3600 { return "\(whole / 60) min \(whole % 60) s" }
        return "\(whole / 3600) h \(whole % 3600 / 60) min"
    }

    static func duration(from start: Date?, to end: Date?, now: Date) -> String {
        guard let start else { return "" }
        return duration((end ?? now).timeIntervalSince(start))
    }

    static func shortID(_ id: String) -> String { String(id.prefix(8)) }

    /// A JSON value as a person reads it: strings bare, the rest as JSON.
    static func value(_ value: JSONValue) -> String {
        if case .string(let text) = value { return text }
        return value.description
    }
}

/// What the pages show of a run config: the launcher, and for ECS the cluster and EFS volumes.
struct RunConfigSummary {
    var launcher: String
    var cluster: String?
    var volumes: String?

    init(_ config: RunConfig) {
        launcher = config.launcher.rawValue
        guard config.launcher == .ecs, let ecs = try? ECSRunConfig(config.settings) else { return }  // display only: a stored config that no longer parses shows just its launcher
        cluster = ecs.cluster
        let volumes = ecs.efs.map { "\($0.name) (\($0.fileSystemID)\($0.accessPointID.map { ", " + $0 } ?? "")) at \($0.containerPath)" }
        self.volumes = volumes.isEmpty ? nil : volumes.joined(separator: "; ")
    }
}

extension RunRetryPolicy {
    /// `2 retries, 30s apart`.
    var text: String {
        "\(retries) retr\(retries == 1 ? "y" : "ies")\(delaySeconds > 0 ? ", \(DurationText.describe(delaySeconds)) apart" : "")"
    }
}
