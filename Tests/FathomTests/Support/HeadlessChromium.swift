import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real headless Chromium (Debian's `chromium`), driven over the DevTools protocol through
/// `--remote-debugging-pipe`: commands go in on its fd 3, answers come out of its fd 4, each a JSON
/// object ended by a NUL byte. Tests load pages, read the DOM with `evaluate`, click, and take screenshots.
final class HeadlessChromium: Sendable {
    static let executable = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    private let pid: pid_t
    private let commandFD: Int32
    private let answerFD: Int32
    private let profile = TemporaryDirectory("fathom-chromium")
    private let inbox = Inbox()
    private let nextID = Atomic<Int>(1)
    private let sessionID = Mutex<String?>(nil)

    /// Commands waiting for their answers. Its own object, so the reader thread does not keep the browser alive.
    private final class Inbox: Sendable {
        let waiting = Mutex<[Int: CheckedContinuation<Data, any Error>]>([:])
    }

    struct ProtocolError: Error, CustomStringConvertible {
        var description: String
    }

    init(width: Int = 1280, height: Int = 900) throws {
        guard let executable = Self.executable else { throw ProtocolError(description: "chromium is not installed (apt-get install chromium)") }
        var toBrowser: [Int32] = [0, 0], fromBrowser: [Int32] = [0, 0]
        guard pipe(&toBrowser) == 0, pipe(&fromBrowser) == 0 else { throw ProtocolError(description: "pipe failed: \(errno)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toBrowser[0], 3)
        posix_spawn_file_actions_adddup2(&actions, fromBrowser[1], 4)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, profile.file("stderr.log"), O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let arguments = [
            executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-background-networking", "--hide-scrollbars",
            "--remote-debugging-pipe", "--user-data-dir=\(profile.path)/profile", "--window-size=\(width),\(height)", "about:blank",
        ]
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        // Its own process group, so its renderer and GPU processes go with it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, &attributes, &argv, environ)
        close(toBrowser[0])
        close(fromBrowser[1])
        guard status == 0 else { throw ProtocolError(description: "could not start chromium: \(status)") }
        pid = child
        commandFD = toBrowser[1]
        answerFD = fromBrowser[0]
        let reader = Thread { [inbox, answerFD] in Self.readAnswers(from: answerFD, into: inbox) }
        reader.start()
    }

    deinit {
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        close(commandFD)
    }

    /// Opens a page target and attaches to it; later commands go to that page.
    func openPage() async throws {
        let created = try await send("Target.createTarget", ["url": "about:blank"], toPage: false)
        let targetID = try #require(created["targetId"] as? String)
        let attached = try await send("Target.attachToTarget", ["targetId": targetID, "flatten": true], toPage: false)
        sessionID.withLock { $0 = attached["sessionId"] as? String }
        _ = try await send("Page.enable")
        _ = try await send("Runtime.enable")
    }

    /// Loads `url` and waits until the document has loaded.
    func navigate(_ url: String, timeout: Duration = .seconds(20)) async throws {
        _ = try await send("Page.navigate", ["url": url])
        try await waitFor("document.readyState === 'complete' && location.href === \(Self.literal(url))", timeout: timeout)
    }

    /// Evaluates a JavaScript expression in the page and returns its JSON value.
    func evaluate(_ expression: String) async throws -> Any? {
        let answer = try await send("Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true])
        if let exception = answer["exceptionDetails"] as? [String: Any] {
            throw ProtocolError(description: "script failed: \(exception["text"] ?? "") \((exception["exception"] as? [String: Any])?["description"] ?? "")")
        }
        return (answer["result"] as? [String: Any])?["value"]
    }

    func string(_ expression: String) async throws -> String? { try await evaluate(expression) as? String }

    /// Polls `condition` (a JavaScript expression) until it is true; a page that is still loading counts as not yet.
    func waitFor(_ condition: String, timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await evaluate("Boolean(\(condition))")) as? Bool == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        let url = (try? await string("location.href")) ?? "?"
        let body = (try? await string("""
            document.body ? [...document.querySelectorAll('h1, .flash, .field-error')].map(e => e.innerText).join('\\n') + '\\n…\\n'
              + document.body.innerText.slice(0, 1500) : ''
            """)) ?? ""
        throw ProtocolError(description: "timed out waiting for \(condition) on \(url); the page says:\n\(body)")
    }

    /// A PNG of the whole page.
    func screenshot() async throws -> Data {
        let answer = try await send("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": true])
        guard let text = answer["data"] as? String, let png = Data(base64Encoded: text) else {
            throw ProtocolError(description: "Page.captureScreenshot answered without an image")
        }
        return png
    }

    /// A PNG of one element (by id), at its size on the page.
    func screenshot(ofElement id: String) async throws -> Data {
        let script = """
            (() => { const e = document.getElementById(\(Self.literal(id))); if (!e) return null;
              e.scrollIntoView(); const r = e.getBoundingClientRect();
              return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height]; })()
            """
        let box = try #require(try await evaluate(script) as? [Double], "no element #\(id) on the page")
        let clip: [String: Any] = ["x": box[0], "y": box[1], "width": max(1, box[2]), "height": max(1, box[3]), "scale": 1]
        let answer = try await send("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": true, "clip": clip])
        guard let text = answer["data"] as? String, let png = Data(base64Encoded: text) else {
            throw ProtocolError(description: "Page.captureScreenshot answered without an image")
        }
        return png
    }

    /// A JavaScript string literal of `text`.
    static func literal(_ text: String) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: [text]), as: UTF8.self).dropFirst().dropLast().description
    }

    // MARK: The pipe

    func send(_ method: String, _ parameters: [String: Any] = [:], toPage: Bool = true) async throws -> [String: Any] {
        let id = nextID.add(1, ordering: .relaxed).oldValue
        var message: [String: Any] = ["id": id, "method": method, "params": parameters]
        if toPage, let session = sessionID.withLock({ $0 }) { message["sessionId"] = session }
        var bytes = try JSONSerialization.data(withJSONObject: message)
        bytes.append(0)
        let answer: Data = try await withCheckedThrowingContinuation { continuation in
            inbox.waiting.withLock { $0[id] = continuation }
            let written = bytes.withUnsafeBytes { buffer -> Bool in
                var offset = 0
                while offset < buffer.count {
                    let count = write(commandFD, buffer.baseAddress! + offset, buffer.count - offset)
                    if count <= 0 { return false }
                    offset += count
                }
                return true
            }
            if !written, let waiting = inbox.waiting.withLock({ $0.removeValue(forKey: id) }) {
                waiting.resume(throwing: ProtocolError(description: "chromium closed its command pipe"))
            }
        }
        let object = try JSONSerialization.jsonObject(with: answer) as? [String: Any] ?? [:]
        if let error = object["error"] as? [String: Any] {
            throw ProtocolError(description: "\(method): \(error["message"] ?? error)")
        }
        return object["result"] as? [String: Any] ?? [:]
    }

    private static func readAnswers(from answerFD: Int32, into inbox: Inbox) {
        var buffer = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = read(answerFD, &chunk, chunk.count)
            if count <= 0 { break }
            buffer.append(contentsOf: chunk[0..<count])
            while let end = buffer.firstIndex(of: 0) {
                let message = buffer[buffer.startIndex..<end]
                buffer = Data(buffer[(end + 1)...])
                guard let object = try? JSONSerialization.jsonObject(with: message) as? [String: Any], let id = object["id"] as? Int
                else { continue }  // An event: the tests poll the DOM instead.
                inbox.waiting.withLock { $0.removeValue(forKey: id) }?.resume(returning: Data(message))
            }
        }
        close(answerFD)
        for waiting in inbox.waiting.withLock({ state in defer { state.removeAll() }; return Array(state.values) }) {
            waiting.resume(throwing: ProtocolError(description: "chromium exited"))
        }
    }
}
