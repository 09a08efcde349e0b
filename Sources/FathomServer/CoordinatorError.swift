import FathomAPI
import FathomCore

/// A rule of the coordinator that a request broke, or something it named that does not exist.
///
/// The coordinator speaks no HTTP: the routes map ``Kind`` to a status (`Routes/ErrorAnswer.swift`),
/// and the web UI renders the same ``body`` as a page.
public struct CoordinatorError: Error, Sendable, CustomStringConvertible {
    /// What kind of refusal it is.
    public enum Kind: Sendable {
        /// A value of the request is out of its range or form (a negative wait, a lease of a year).
        case malformed
        /// The request is well-formed but breaks a rule (a bad parameter, a run config AWS would refuse).
        case invalid
        /// What the request names does not exist.
        case notFound
        /// The request collides with the current state (an illegal move, a name in use, an ended run).
        case conflict
    }

    /// Which kind of refusal: the routes answer each with its own status.
    public var kind: Kind
    /// The code, message, field and fix every client sees.
    public var body: APIErrorBody

    /// A refusal of `kind`; `field` names the input at fault and `fix` says what to do instead.
    public init(_ kind: Kind, code: String, message: String, field: String? = nil, fix: String? = nil) {
        self.kind = kind
        self.body = APIErrorBody(code: code, message: message, field: field, fix: fix)
    }

    /// Every problem of a request's input, the first one's code and field on top.
    public init(validation errors: ValidationErrors) {
        self.kind = .invalid
        let first = errors.errors.first
        self.body = APIErrorBody(
            code: first?.code ?? "invalid", message: errors.description, field: first?.field, fix: first?.fix,
            problems: errors.errors)
    }

    /// The message, for logs.
    public var description: String { body.error.message }

    static func notFound(_ what: String, _ id: String, fix: String) -> CoordinatorError {
        CoordinatorError(.notFound, code: "not_found", message: "\(what) '\(id)' does not exist. \(fix)", fix: fix)
    }

    static func runNotFound(_ id: String) -> CoordinatorError {
        notFound("flow run", id, fix: "List runs with 'fathom runs'.")
    }
}

/// Runs a check of a request's input; its ``ValidationError`` becomes a refusal that names the field,
/// the problem and the fix.
func checked<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ValidationError {
        throw CoordinatorError(.malformed, code: error.code, message: error.description, field: error.field, fix: error.fix)
    }
}
