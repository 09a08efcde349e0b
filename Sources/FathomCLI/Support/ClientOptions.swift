import ArgumentParser
import FathomAPI
import FathomClient
import Foundation

/// How client commands find the coordinator.
public struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "The coordinator's URL, or several comma-separated to fail over between (env: FATHOM_API_URL; default http://127.0.0.1:4200).")
    var apiURL: String?

    @Option(name: .long, help: "The coordinator's API token (env: FATHOM_TOKEN).")
    var token: String?

    public init() {}

    var resolvedURL: String {
        apiURL ?? ProcessInfo.processInfo.environment["FATHOM_API_URL"] ?? APIClient.defaultURL
    }

    var resolvedToken: String? {
        token ?? ProcessInfo.processInfo.environment["FATHOM_TOKEN"]
    }

    func makeClient() -> APIClient {
        APIClient(baseURL: resolvedURL, token: resolvedToken)
    }
}

/// Options of commands that host a coordinator: `server`, `dev`.
struct ServeOptions: ParsableArguments {
    @Option(help: "The address to bind. Anything but 127.0.0.1 requires --token.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on.")
    var port = 4200

    @Option(name: .customLong("heartbeat-timeout"), help: "Seconds without a heartbeat before a Running run is Crashed.")
    var heartbeatTimeout: Double = 90

    @Option(help: "The API token every call must carry (env: FATHOM_TOKEN).")
    var token: String?

    @Option(help: "Where uploaded bundles go: s3://bucket/prefix (env: FATHOM_STORAGE); default <data dir>/bundles.")
    var storage: String?

    @Option(name: .customLong("allow-bundle-prefix"), help: "A bundle URL prefix registrations may name besides this server's storage (s3://bucket/prefix/); repeat for more.")
    var bundlePrefixes: [String] = []

    @Option(name: .customLong("max-bundle-size"), help: "The largest bundle an upload may send (e.g. 512M, 2G).")
    var maxBundleSize = "2G"

    @Option(name: .customLong("max-long-poll"), help: "The longest a claim or log read is held open, in seconds; keep it under a load balancer's idle timeout (an ALB's is 60 s).")
    var maxLongPoll: Double = 60

    @Option(name: .customLong("public-url"), help: "The address people open the web UI at (e.g. https://fathom.example.com), for links in alerts (env: FATHOM_PUBLIC_URL).")
    var publicURL: String?

    @Option(name: .customLong("alert-host"), help: "A host alert targets may name (hooks.slack.com, *.example.com); repeat for more. Default: any host but cloud metadata addresses.")
    var alertHosts: [String] = []

    @Option(name: .customLong("smtp-url"), help: "The mail server for email alerts: smtp://USER@HOST:587 (STARTTLS) or smtps://USER@HOST:465 (env: FATHOM_SMTP_URL; password in FATHOM_SMTP_PASSWORD).")
    var smtpURL: String?

    @Option(name: .customLong("smtp-from"), help: "The address email alerts come from (env: FATHOM_SMTP_FROM).")
    var smtpFrom: String?

    @Option(name: .customLong("smtp-ca-file"), help: "A PEM file of CAs to trust for the mail server instead of the system's.")
    var smtpCAFile: String?

    var resolvedToken: String? {
        token ?? ProcessInfo.processInfo.environment["FATHOM_TOKEN"]
    }
}

/// Options of commands that run an agent: `agent`, `dev`.
struct AgentOptions: ParsableArguments {
    @Option(help: "The work queue to claim runs from.")
    var queue = "default"

    @Option(name: .customLong("label"), help: "A label this agent has (key=value); repeat for more.")
    var labels: [String] = []

    @Option(name: .customLong("volume"), help: "A named volume mapped to a local directory (name=/path); repeat for more.")
    var volumes: [String] = []

    @Option(name: .customLong("max-runs"), help: "The most runs this agent launches at once.")
    var maxRuns = 8

    func parsedLabels() throws -> [String: String] {
        try KeyValueArguments.parse(labels, option: "--label")
    }

    func parsedVolumes() throws -> [String: String] {
        try KeyValueArguments.parse(volumes, option: "--volume").mapValues { path in
            URL(fileURLWithPath: path).standardizedFileURL.path
        }
    }
}

/// `key=value` option values.
enum KeyValueArguments {
    static func parse(_ pairs: [String], option: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("\(option) '\(pair)': expected key=value, e.g. \(option) scratch=/tmp/scratch")
            }
            result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        return result
    }
}
