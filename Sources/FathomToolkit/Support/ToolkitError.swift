#if canImport(Glibc)
import Glibc
#endif

/// Every failure of the toolkit, each naming what failed and how to fix it.
public enum ToolkitError: Error, CustomStringConvertible, Equatable {
    /// An option's value is wrong: the option, what was wrong, how to fix it.
    case invalidOption(String, String, String)
    /// A system call failed on a path.
    case io(String, String, Int32)
    /// Compressed input is damaged: the file, the byte offset of the damage, what libbz2 said.
    case corrupt(String, offset: Int, String)
    /// The input is not in order (`--check`): file, 1-based line number, the line.
    case disorder(String, line: Int, String)
    /// The caller cancelled; temporary files are gone.
    case cancelled
    /// A refusal that protects data (an existing output, a path outside the root).
    case refused(String)

    public var description: String {
        switch self {
        case .invalidOption(let field, let problem, let fix):
            return "\(field): \(problem); \(fix)"
        case .io(let call, let path, let code):
            return "\(call) \(path): \(String(cString: strerror(code)))"
        case .corrupt(let file, let offset, let detail):
            return "\(file): compressed data is damaged at byte \(offset) (\(detail)); nothing was written under the output name"
        case .disorder(let file, let line, let text):
            return "\(file):\(line): disorder: \(text)"
        case .cancelled:
            return "cancelled; temporary files removed"
        case .refused(let reason):
            return reason
        }
    }
}
