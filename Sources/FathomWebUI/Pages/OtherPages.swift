import FathomAPI
import FathomCore
import Foundation

/// The Agents page: last seen, queue, labels, runs in flight.
public struct AgentsPage: WebPage {
    public static let template = "agents"
    public var title = "Agents"
    public var navAgents = true
    let agents: [Row]
    let hasAgents: Bool

    struct Row {
        let name, queue, launcher, labels, lastSeen, ago, runsLink: String
        let inFlight: Int
        let stale: Bool
    }

    /// - Parameter staleAfter: an agent silent this long is flagged as not polling.
    public init(agents: [AgentInfo], now: Date, staleAfter: TimeInterval = 120) {
        self.agents = agents.map { agent in
            let silent = now.timeIntervalSince(agent.lastSeenAt)
            return Row(
                name: agent.name, queue: agent.queue, launcher: agent.launcher.rawValue,
                labels: agent.labels.keys.sorted().map { "\($0)=\(agent.labels[$0]!)" }.joined(separator: ", "),
                lastSeen: Formatting.time(agent.lastSeenAt), ago: Formatting.duration(silent),
                runsLink: "/runs?agent=" + (agent.id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""),
                inFlight: agent.runsInFlight, stale: silent > staleAfter)
        }
        hasAgents = !agents.isEmpty
    }
}

/// The sign-in form, shown when the coordinator has a token and the browser has no session.
public struct LoginPage: WebPage {
    public static let template = "login"
    public var title = "Sign in"
    let next: String
    let error: String?

    public init(next: String, error: String? = nil) {
        self.next = Links.isLocalPath(next) ? next : "/"
        self.error = error
    }
}

/// A page for a missing flow or run, or a refused action.
public struct ErrorPage: WebPage {
    public static let template = "error"
    public var title: String
    let heading, message: String

    public init(heading: String, message: String) {
        title = heading
        self.heading = heading
        self.message = message
    }
}

/// The UI's URLs, with every name percent-encoded.
public enum Links {
    public static func flow(_ name: String) -> String { "/flows/" + encode(name) }
    public static func run(_ id: String) -> String { "/runs/" + encode(id) }
    public static func schedule(_ name: String) -> String { "/schedules/" + encode(name) }
    public static func alertRule(_ name: String) -> String { "/alerts/" + encode(name) }

    static func encode(_ component: String) -> String {
        component.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }

    /// Only links into the AWS console are made clickable from infrastructure facts.
    static func isConsoleLink(_ text: String) -> Bool {
        guard let url = URL(string: text), url.scheme == "https", let host = url.host else { return false }
        return host.hasSuffix(".console.aws.amazon.com") || host == "console.aws.amazon.com"
    }

    /// A plain path on this server (`/runs/…`), not `//elsewhere` or `https://…`: where sign-in may send the browser
    /// back to. Only visible ASCII without a backslash counts, because browsers drop tabs and newlines from a URL
    /// (`/<TAB>/evil.example` becomes `//evil.example`) and read `\` as `/`.
    public static func isLocalPath(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.first == UInt8(ascii: "/"), bytes.count < 2 || bytes[1] != UInt8(ascii: "/") else { return false }
        return bytes.allSatisfy { (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "\\") }
    }
}
