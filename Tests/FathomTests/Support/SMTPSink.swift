import Foundation
import Testing

/// A real mail server for tests: Python's aiosmtpd on a free loopback port, with STARTTLS (a certificate made for
/// `localhost` and 127.0.0.1), AUTH required after TLS, and every message it takes written to a directory as JSON.
final class SMTPSink: Sendable {
    /// How the sink behaves.
    enum Mode: String {
        /// STARTTLS offered and required, AUTH required.
        case secure
        /// No STARTTLS at all (a server Fathom must refuse to send to).
        case plain
        /// As `secure`, but the first DATA is answered `451` (a temporary failure).
        case failFirst = "fail-first"
    }

    /// A message as the sink took it.
    struct Received: Decodable {
        var from: String
        var to: [String]
        var data: String
        /// Whether STARTTLS was done before the message.
        var tls: Bool
        /// The user the client authenticated as.
        var login: String?

        /// The message's headers, by lowercased name (first occurrence).
        var headers: [String: String] {
            let head = data.components(separatedBy: "\r\n\r\n").first ?? data.components(separatedBy: "\n\n").first ?? ""
            var result: [String: String] = [:]
            var last: String?
            for line in head.components(separatedBy: .newlines) where !line.isEmpty {
                if line.first == " " || line.first == "\t", let last {
                    result[last, default: ""] += line
                } else if let colon = line.firstIndex(of: ":") {
                    let name = line[..<colon].lowercased()
                    last = name
                    if result[name] == nil { result[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
                }
            }
            return result
        }

        /// Every header line's name, in order.
        var headerNames: [String] {
            let head = data.components(separatedBy: "\r\n\r\n").first ?? ""
            return head.components(separatedBy: "\r\n").compactMap { line in
                line.first == " " ? nil : line.firstIndex(of: ":").map { String(line[..<$0]) }
            }
        }

        /// The base64 body decoded.
        var body: String {
            let parts = data.components(separatedBy: "\r\n\r\n")
            let encoded = parts.dropFirst().joined().components(separatedBy: .whitespacesAndNewlines).joined()
            return Data(base64Encoded: encoded).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
    }

    static let user = "alerts@example.com", password = "s3cret-smtp-password"

    let port: Int
    let caFile: String
    private let directory: TemporaryDirectory
    private let process: BackgroundProcess

    init(mode: Mode = .secure) async throws {
        directory = TemporaryDirectory("smtp-sink")
        let messages = directory.file("messages")
        try FileManager.default.createDirectory(atPath: messages, withIntermediateDirectories: true)
        caFile = directory.file("cert.pem")
        let made = try await runCommand("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", directory.file("key.pem"), "-out", caFile,
        ])
        guard made.exit.succeeded else { throw TestFailure("openssl could not make a certificate: \(made.output.suffix(5))") }
        let script = directory.file("sink.py")
        try Self.script.write(toFile: script, atomically: true, encoding: .utf8)
        port = try LoopbackPort.unused()
        process = BackgroundProcess("/usr/bin/env", [
            "python3", script, String(port), caFile, directory.file("key.pem"), Self.user, Self.password, messages, mode.rawValue,
        ])
        _ = try await process.waitForLine { $0.hasPrefix("ready") || $0.contains("Error") }
        guard process.output.contains(where: { $0.hasPrefix("ready") }) else {
            await process.stop()
            throw TestFailure("the SMTP sink did not start: \(process.output.suffix(10))")
        }
    }

    func stop() async { await process.stop() }

    /// What the sink printed (each command's outcome).
    var output: [String] { process.output }

    /// Every message taken so far, oldest first.
    var received: [Received] {
        let folder = directory.file("messages")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        return names.compactMap { name in
            (try? Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))).flatMap { try? JSONDecoder().decode(Received.self, from: $0) }
        }
    }

    private static let script = #"""
        import os, ssl, sys, json, time
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        port, cert, key, user, password, out, mode = sys.argv[1:8]
        state = {"data": 0}

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                state["data"] += 1
                if mode == "fail-first" and state["data"] == 1:
                    print("answered DATA with 451", flush=True)
                    return "451 4.3.0 try again later"
                record = {"from": envelope.mail_from, "to": envelope.rcpt_tos,
                          "data": envelope.original_content.decode("utf-8", "replace"),
                          "tls": session.ssl is not None,
                          "login": state.get("login") if session.authenticated else None}
                name = os.path.join(out, "%06d.json" % state["data"])
                with open(name + ".tmp", "w") as f:
                    json.dump(record, f)
                os.rename(name + ".tmp", name)
                print("took a message", flush=True)
                return "250 2.0.0 OK"

        def authenticate(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
            print("AUTH %s %s" % (mechanism, "ok" if ok else "refused"), flush=True)
            if ok:
                state["login"] = user
            return AuthResult(success=ok, handled=False)

        kwargs = {}
        if mode != "plain":
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            kwargs = dict(tls_context=context, require_starttls=True, auth_require_tls=True)
        controller = Controller(Handler(), hostname="127.0.0.1", port=int(port), authenticator=authenticate,
                                auth_required=(mode != "plain"), **kwargs)
        controller.start()
        print("ready", flush=True)
        while True:
            time.sleep(3600)
        """#
}
