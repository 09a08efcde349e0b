import FathomCore

/// The JSON body of every 4xx and 5xx answer.
public struct APIErrorBody: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        /// A short machine-readable code, e.g. `illegal_transition`.
        public var code: String
        /// One line for a human: field, problem, fix.
        public var message: String
        /// The offending field, when one is to blame.
        public var field: String?
        /// How to fix it.
        public var fix: String?
        /// Every problem, when there were several.
        public var problems: [Problem]?
        /// The request's id (also in the `X-Request-Id` header), as the coordinator's log names it.
        public var requestId: String?
    }

    /// One of several validation problems.
    public struct Problem: Codable, Sendable {
        public var code: String
        public var field: String
        public var problem: String
        public var fix: String
    }

    public var error: Detail

    public init(code: String, message: String, field: String? = nil, fix: String? = nil, problems: [ValidationError]? = nil) {
        self.error = Detail(
            code: code, message: message, field: field, fix: fix,
            problems: problems?.map { Problem(code: $0.code, field: $0.field, problem: $0.problem, fix: $0.fix) }, requestId: nil)
    }
}
