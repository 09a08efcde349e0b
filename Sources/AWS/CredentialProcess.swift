import FathomProcess
import Foundation

/// `credential_process` of a profile: a command whose stdout is the credentials as JSON
/// (`Version: 1`, `AccessKeyId`, `SecretAccessKey`, optional `SessionToken` and `Expiration`), per
/// `docs.aws.amazon.com/cli/latest/userguide/cli-configure-sourcing-external.html`. The command line is
/// split as a POSIX shell would, and run without a shell.
struct CredentialProcess {
    let commandLine: String
    let profile: String
    var timeout: Duration = .seconds(60)

    struct Output: Decodable {
        var Version: Int
        var AccessKeyId: String
        var SecretAccessKey: String
        var SessionToken: String?
        var Expiration: String?
    }

    func run() async throws -> AWSCredentials {
        let words: [String]
        do {
            words = try ShellWords.split(commandLine)
        } catch {
            throw AWSError.credentials("profile \(profile): credential_process \(error)")
        }
        guard let executable = words.first else {
            throw AWSError.credentials("profile \(profile): credential_process is empty")
        }
        let stdout = Locked<[String]>([])
        let child = ChildProcess(executable: executable, arguments: Array(words.dropFirst()))
        let exit: ChildExit
        do {
            exit = try await withThrowingTaskGroup(of: ChildExit?.self) { group in
                group.addTask {
                    try await child.run { stream, line in
                        if stream == .stdout { stdout.withLock { $0.append(line) } }
                    }
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let exit = first else {
                    throw AWSError.credentials("profile \(profile): credential_process '\(executable)' did not finish within \(timeout)")
                }
                return exit
            }
        } catch let error as AWSError {
            throw error
        } catch {
            throw AWSError.credentials("profile \(profile): cannot run credential_process '\(executable)': \(error)")
        }
        guard exit.succeeded else {
            throw AWSError.credentials(
                "profile \(profile): credential_process '\(executable)' \(exit)\(exit.stderrTail.isEmpty ? "" : ": " + exit.stderrTail.suffix(3).joined(separator: " | "))")
        }
        let output: Output
        do {
            output = try JSONDecoder().decode(Output.self, from: Data(stdout.value.joined(separator: "\n").utf8))
        } catch {
            throw AWSError.credentials(
                "profile \(profile): credential_process '\(executable)' printed no credentials JSON (Version, AccessKeyId, SecretAccessKey): \(error)")
        }
        guard output.Version == 1 else {
            throw AWSError.credentials("profile \(profile): credential_process printed Version \(output.Version); Fathom reads Version 1")
        }
        let expiration = try output.Expiration.map { text in
            guard let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: text.contains(".")).parse(text) else {  // the error thrown below names the value
                throw AWSError.credentials("profile \(profile): credential_process printed Expiration '\(text)', not an ISO 8601 time")
            }
            return date
        }
        return AWSCredentials(
            accessKeyID: output.AccessKeyId, secretAccessKey: output.SecretAccessKey, sessionToken: output.SessionToken,
            expiration: expiration, source: "credential_process (profile \(profile))")
    }
}

/// POSIX shell word splitting without expansion: quotes and backslashes, as Python's `shlex.split`.
enum ShellWords {
    struct Unbalanced: Error, CustomStringConvertible {
        var description: String { "has an unclosed quote" }
    }

    static func split(_ text: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var iterator = text.makeIterator()
        while let character = iterator.next() {
            switch character {
            case " ", "\t", "\n":
                if inWord { words.append(current) }
                current = ""
                inWord = false
            case "'":
                inWord = true
                while true {
                    guard let next = iterator.next() else { throw Unbalanced() }
                    if next == "'" { break }
                    current.append(next)
                }
            case "\"":
                inWord = true
                while true {
                    guard let next = iterator.next() else { throw Unbalanced() }
                    if next == "\"" { break }
                    if next == "\\" {
                        guard let escaped = iterator.next() else { throw Unbalanced() }
                        if !"\"\\$`".contains(escaped) { current.append("\\") }
                        current.append(escaped)
                    } else {
                        current.append(next)
                    }
                }
            case "\\":
                inWord = true
                if let escaped = iterator.next() { current.append(escaped) }
            default:
                inWord = true
                current.append(character)
            }
        }
        if inWord { words.append(current) }
        return words
    }
}
