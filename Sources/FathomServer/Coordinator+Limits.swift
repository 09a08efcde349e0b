import FathomAPI
import FathomCore
import Foundation

extension Coordinator {
    /// Sets how many runs of a flow or queue may be active at once; claims respect it from now on.
    public func setConcurrencyLimit(scope: String, name: String, limit: Int) async throws -> ConcurrencyLimit {
        try Self.checkScope(scope)
        guard Names.isValid(name) else {
            throw CoordinatorError(
                .invalid, code: "invalid_name", message: "'\(name)' is not a valid \(scope) name", field: "name",
                fix: "Use letters, digits, '.', '_' and '-'.")
        }
        guard (0...100_000).contains(limit) else {
            throw CoordinatorError(
                .invalid, code: "invalid_limit", message: "limit \(limit) is outside 0-100000", field: "limit",
                fix: "Use 0 (hold every run) or a positive count.")
        }
        try await store.setConcurrencyLimit(scope: scope, name: name, limit: limit)
        // A raised limit may let waiting runs go now.
        if scope == "queue" { notifier.signal(.queue(name)) } else {
            for queue in Set(try await store.version(flowName: name, number: nil).map { [$0.queue] } ?? []) {
                notifier.signal(.queue(queue))
            }
        }
        return try await store.concurrencyLimits().first { $0.scope == scope && $0.name == name }
            ?? ConcurrencyLimit(scope: scope, name: name, limit: limit)
    }

    /// Removes a limit.
    public func deleteConcurrencyLimit(scope: String, name: String) async throws -> ConcurrencyLimitList {
        try Self.checkScope(scope)
        guard try await store.deleteConcurrencyLimit(scope: scope, name: name) else {
            throw CoordinatorError.notFound("\(scope) concurrency limit", name, fix: "List limits with 'fathom limit list'.")
        }
        if scope == "queue" { notifier.signal(.queue(name)) }
        return ConcurrencyLimitList(limits: try await store.concurrencyLimits())
    }

    static func checkScope(_ scope: String) throws {
        guard ConcurrencyLimit.scopes.contains(scope) else {
            throw CoordinatorError(
                .invalid, code: "invalid_scope", message: "'\(scope)' is not a limit scope", field: "scope",
                fix: "Use flow or queue.")
        }
    }
}
