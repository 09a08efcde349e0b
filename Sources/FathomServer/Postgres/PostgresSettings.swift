import FathomCore
import Foundation
import NIOSSL
import PostgresNIO

/// Where a PostgreSQL coordinator database is: `postgres://user:password@host:5432/database?sslmode=require`
/// (`postgresql://` too), with `sslmode` as libpq spells it.
public struct PostgresSettings: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// `disable`, `prefer` (the default, as libpq's), `require`, `verify-ca` or `verify-full`.
    public var sslMode: String

    static let sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

    /// Parses a database URL; errors name the part that is wrong and how to write it.
    public init(url text: String, field: String = "--database") throws(ValidationError) {
        func invalid(_ problem: String) -> ValidationError {
            ValidationError(
                code: "invalid_database_url", field: field, problem: problem,
                fix: "Write postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=require (sslmode: \(Self.sslModes.joined(separator: ", "))).")
        }
        guard let url = URLComponents(string: text), let scheme = url.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw invalid("the URL is not a postgres:// URL")
        }
        guard let host = url.host, !host.isEmpty else { throw invalid("the URL names no host") }
        guard let user = url.user, !user.isEmpty else { throw invalid("the URL names no user") }
        let database = String(url.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else { throw invalid("the URL names no database (the path after the host)") }
        let port = url.port ?? 5432
        guard (1...65535).contains(port) else { throw invalid("the URL has port \(port), outside 1–65535") }
        var sslMode = "prefer"
        for item in url.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, Self.sslModes.contains(value) else {
                    throw invalid("the URL has sslmode '\(item.value ?? "")', which libpq does not know")
                }
                sslMode = value
            default:
                throw invalid("the URL has the parameter '\(item.name)', which Fathom does not use")
            }
        }
        self.host = host
        self.port = port
        self.user = user
        self.password = url.password
        self.database = database
        self.sslMode = sslMode
    }

    /// The URL without its password, for logs and errors.
    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)?sslmode=\(sslMode)" }

    /// The client configuration: TLS as `sslmode` says (verify-full checks the certificate and the host name;
    /// require and verify-ca encrypt without checking the name, as libpq's require does without a root certificate).
    func clientConfiguration(maximumConnections: Int) -> PostgresClient.Configuration {
        var tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "disable":
            tls = .disable
        case "allow", "prefer":
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            tls = .prefer(configuration)
        case "require", "verify-ca":
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = sslMode == "verify-ca" ? .noHostnameVerification : .none
            tls = .require(configuration)
        default:
            tls = .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
        configuration.options.maximumConnections = maximumConnections
        return configuration
    }
}
