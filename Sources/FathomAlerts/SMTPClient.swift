import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Why a mail was not handed to the server.
public struct SMTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server's reply code, when it said no.
    public var code: Int?
    public var description: String
    /// A 4xx reply or a broken connection may pass; a 5xx will not.
    public var retryable: Bool
}

/// A small SMTP client for one message at a time (RFC 5321): EHLO, STARTTLS (RFC 3207), AUTH PLAIN or LOGIN
/// (RFC 4954), MAIL, RCPT, DATA, QUIT. Every reply is read and checked; the conversation ends after `timeout`.
public struct SMTPClient: Sendable {
    public let settings: SMTPSettings
    public let timeout: TimeAmount

    public init(settings: SMTPSettings, timeout: TimeAmount = .seconds(30)) {
        self.settings = settings
        self.timeout = timeout
    }

    /// Hands `message` (a whole RFC 5322 text with CRLF line ends) to the server for `recipients`.
    public func send(message: String, to recipients: [String]) async throws(SMTPError) {
        let tls: NIOSSLContext
        do {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            if let caFile = settings.caFile { configuration.trustRoots = .file(caFile) }
            tls = try NIOSSLContext(configuration: configuration)
        } catch {
            throw SMTPError(code: nil, description: "could not set up TLS: \(error)", retryable: false)
        }
        do {
            try await converse(message: message, recipients: recipients, tls: tls)
        } catch let error as SMTPError {
            throw error
        } catch {
            throw SMTPError(code: nil, description: "could not talk to \(settings.host):\(settings.port): \(error)", retryable: true)
        }
    }

    private func converse(message: String, recipients: [String], tls: NIOSSLContext) async throws {
        let settings = self.settings
        let serverName = settings.host.isIPAddress ? nil : settings.host
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: settings.host, port: settings.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if settings.security == .implicitTLS {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let deadline = channel.channel.eventLoop.scheduleTask(in: timeout) { channel.channel.close(promise: nil) }
        defer { deadline.cancel() }
        try await channel.executeThenClose { inbound, outbound in
            var replies = SMTPReplyReader(iterator: inbound.makeAsyncIterator(), timeout: timeout)
            let say = { (line: String) async throws in try await outbound.write(ByteBuffer(string: line + "\r\n")) }
            try await replies.expect(220, after: "connecting")
            let me = "fathom.localdomain"
            try await say("EHLO \(me)")
            var capabilities = try await replies.expect(250, after: "EHLO").lines
            if settings.security == .startTLS {
                guard capabilities.contains(where: { $0.uppercased() == "STARTTLS" }) else {
                    throw SMTPError(
                        code: nil, description: "\(settings.host) does not offer STARTTLS; Fathom does not send mail or passwords in clear (use smtps:// if it speaks TLS on another port)",
                        retryable: false)
                }
                try await say("STARTTLS")
                try await replies.expect(220, after: "STARTTLS")
                let raw = channel.channel
                try await raw.eventLoop.submit {
                    try raw.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName), position: .first)
                }.get()
                try await say("EHLO \(me)")
                capabilities = try await replies.expect(250, after: "EHLO over TLS").lines
            }
            if let user = settings.username {
                let mechanisms = capabilities.first { $0.uppercased().hasPrefix("AUTH") }?.uppercased().split(separator: " ").map(String.init) ?? []
                let password = settings.password ?? ""
                if mechanisms.contains("PLAIN") {
                    try await say("AUTH PLAIN " + Data("\0\(user)\0\(password)".utf8).base64EncodedString())
                } else if mechanisms.contains("LOGIN") {
                    try await say("AUTH LOGIN")
                    try await replies.expect(334, after: "AUTH LOGIN")
                    try await say(Data(user.utf8).base64EncodedString())
                    try await replies.expect(334, after: "AUTH LOGIN user")
                    try await say(Data(password.utf8).base64EncodedString())
                } else {
                    throw SMTPError(
                        code: nil, description: "\(settings.host) offers no AUTH PLAIN or LOGIN (it said: \(mechanisms.joined(separator: " ")))",
                        retryable: false)
                }
                try await replies.expect(235, after: "AUTH")
            }
            try await say("MAIL FROM:<\(settings.from)>")
            try await replies.expect(250, after: "MAIL FROM")
            for recipient in recipients {
                try await say("RCPT TO:<\(recipient)>")
                try await replies.expect(250, 251, after: "RCPT TO <\(recipient)>")
            }
            try await say("DATA")
            try await replies.expect(354, after: "DATA")
            try await outbound.write(ByteBuffer(string: Self.dotStuffed(message) + ".\r\n"))
            try await replies.expect(250, after: "the message")
            try? await say("QUIT")  // the mail is accepted (250 above); a server that drops the connection first loses nothing
        }
    }

    /// The message as DATA carries it: CRLF line ends, a line starting with `.` doubled, ending with CRLF.
    static func dotStuffed(_ message: String) -> String {
        var lines = message.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        return lines.map { $0.hasPrefix(".") ? ".\($0)\r\n" : "\($0)\r\n" }.joined()
    }
}

/// Reads SMTP replies (`250-first`, `250 last`) from the connection.
struct SMTPReplyReader {
    struct Reply {
        var code: Int
        var lines: [String]
    }

    var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let timeout: TimeAmount
    private var pending = ByteBuffer()

    init(iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, timeout: TimeAmount) {
        self.iterator = iterator
        self.timeout = timeout
    }

    /// The next reply, which must carry one of `codes`; a 4xx is retryable, a 5xx is not.
    @discardableResult
    mutating func expect(_ codes: Int..., after step: String) async throws -> Reply {
        let reply = try await next(after: step)
        guard codes.contains(reply.code) else {
            let said = reply.lines.joined(separator: " ").prefix(300)
            throw SMTPError(
                code: reply.code, description: "the mail server answered \(step) with \(reply.code) \(said)",
                retryable: (400..<500).contains(reply.code))
        }
        return reply
    }

    private mutating func next(after step: String) async throws -> Reply {
        var lines: [String] = []
        while true {
            let line = try await nextLine(after: step)
            let bytes = Array(line.utf8)
            guard bytes.count >= 3, let code = Int(String(decoding: bytes[0..<3], as: UTF8.self)), (200..<600).contains(code) else {
                throw SMTPError(code: nil, description: "the mail server's reply to \(step) is not SMTP: \(line.prefix(80))", retryable: true)
            }
            lines.append(String(decoding: bytes.dropFirst(4), as: UTF8.self))
            if bytes.count == 3 || bytes[3] != UInt8(ascii: "-") { return Reply(code: code, lines: lines) }
            guard lines.count < 1_000 else {
                throw SMTPError(code: nil, description: "the mail server's reply to \(step) does not end", retryable: true)
            }
        }
    }

    private mutating func nextLine(after step: String) async throws -> String {
        while true {
            if let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let length = newline - pending.readerIndex
                var line = pending.readString(length: length) ?? ""
                pending.moveReaderIndex(forwardBy: 1)
                if line.hasSuffix("\r") { line.removeLast() }
                return line
            }
            guard pending.readableBytes < 64 * 1024 else {
                throw SMTPError(code: nil, description: "the mail server sent a line over 64 KiB", retryable: true)
            }
            guard var chunk = try await iterator.next() else {
                throw SMTPError(
                    code: nil, description: "the mail server closed the connection (or said nothing for \(timeout.nanoseconds / 1_000_000_000) s) waiting for the reply to \(step)",
                    retryable: true)
            }
            pending.writeBuffer(&chunk)
        }
    }
}

extension String {
    /// An IPv4 or IPv6 literal (TLS sends no server name for one).
    var isIPAddress: Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, self, &v4) == 1 || inet_pton(AF_INET6, self, &v6) == 1
    }
}
