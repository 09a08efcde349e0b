import FathomAPI
import FathomCore
import Foundation

/// How the coordinator reaches its mail server: `smtp://user:password@host:587` (STARTTLS, required) or
/// `smtps://…:465` (TLS from the first byte), the sender address, and optionally a CA file for a private mail server.
///
/// Mail and passwords never cross the network in clear: a `smtp://` server that does not offer STARTTLS is refused.
public struct SMTPSettings: Sendable, Equatable, CustomStringConvertible {
    /// How the connection is protected.
    public enum Security: String, Sendable, Equatable {
        /// Plain TCP, then STARTTLS before anything else is said (port 587).
        case startTLS
        /// TLS from the first byte (port 465).
        case implicitTLS
    }

    public var host: String
    public var port: Int
    public var security: Security
    public var username: String?
    public var password: String?
    /// The `From:` and envelope sender address.
    public var from: String
    /// A PEM file of CAs to trust instead of the system's (a company mail relay with its own CA).
    public var caFile: String?

    public init(host: String, port: Int, security: Security, username: String?, password: String?, from: String, caFile: String? = nil) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.from = from
        self.caFile = caFile
    }

    /// Reads `smtp://[user[:password]@]host[:port]` or `smtps://…`; `password` (e.g. from `FATHOM_SMTP_PASSWORD`)
    /// is used when the URL has none. Errors name `field` and say how to write it.
    public static func parse(
        url: String, from: String, password: String? = nil, caFile: String? = nil, field: String = "--smtp-url"
    ) throws(ValidationError) -> SMTPSettings {
        let example = "smtp://alerts%40example.com@smtp.example.com:587 (STARTTLS) or smtps://user@smtp.example.com:465"
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              let host = components.host, !host.isEmpty
        else {
            throw ValidationError(
                code: "invalid_smtp_url", field: field, problem: "'\(Self.masked(url))' is not an SMTP URL with a host", fix: "Write it as \(example).")
        }
        let security: Security
        switch scheme {
        case "smtp": security = .startTLS
        case "smtps": security = .implicitTLS
        default:
            throw ValidationError(
                code: "invalid_smtp_url", field: field, problem: "the scheme '\(scheme.prefix(16))' is not smtp or smtps", fix: "Write it as \(example).")
        }
        let port = components.port ?? (security == .startTLS ? 587 : 465)
        guard (1...65_535).contains(port) else {
            throw ValidationError(code: "invalid_smtp_url", field: field, problem: "port \(port) is outside 1-65535", fix: "Write it as \(example).")
        }
        guard EmailAddress.isValid(from) else {
            throw ValidationError(
                code: "invalid_smtp_from", field: "--smtp-from", problem: "'\(from.prefix(64))' is not an email address",
                fix: "Give the address alerts come from, e.g. fathom@example.com.")
        }
        let user = components.user.map { $0.removingPercentEncoding ?? $0 }.flatMap { $0.isEmpty ? nil : $0 }
        let urlPassword = components.password.map { $0.removingPercentEncoding ?? $0 }
        let secret = urlPassword ?? password
        if user == nil, secret != nil {
            throw ValidationError(
                code: "invalid_smtp_url", field: field, problem: "a password is given but no user name",
                fix: "Put the user in the URL (smtp://user@host:587) and the password in FATHOM_SMTP_PASSWORD.")
        }
        return SMTPSettings(host: host, port: port, security: security, username: user, password: secret, from: from, caFile: caFile)
    }

    /// The URL with its password left out, as logs may show it.
    public var description: String {
        let user = username.map { "\($0)@" } ?? ""
        return "\(security == .startTLS ? "smtp" : "smtps")://\(user)\(host):\(port) from \(from)"
    }

    static func masked(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "…" }
        if components.password != nil { components.password = "…" }
        return components.string ?? "…"
    }
}
