/// A user error that names the field, what was wrong with it, and how to fix it.
///
/// Every error Fathom shows for bad input has this shape, whether it comes from the CLI,
/// the API or a run config.
public struct ValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A short machine-readable code, e.g. `unknown_parameter`.
    public var code: String
    /// The path of the offending field, e.g. `parameters.count`.
    public var field: String
    /// What is wrong.
    public var problem: String
    /// How to fix it.
    public var fix: String

    public init(code: String, field: String, problem: String, fix: String) {
        self.code = code
        self.field = field
        self.problem = problem
        self.fix = fix
    }

    public var description: String {
        let location = field.isEmpty ? "" : "\(field): "
        let remedy = fix.isEmpty ? "" : " \(fix)"
        return "\(location)\(problem).\(remedy)"
    }
}

/// Several validation errors found in one pass, reported together.
public struct ValidationErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ValidationError]

    public init(_ errors: [ValidationError]) {
        self.errors = errors
    }

    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
