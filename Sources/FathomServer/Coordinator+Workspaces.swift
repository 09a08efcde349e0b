import FathomAPI
import FathomCore
import Foundation

extension Coordinator {
    /// The run workspaces (`<volume>/fathom/runs/<id>/`) that `fathom volume gc` and the janitor must keep: those of
    /// active runs, and of Failed or Crashed runs created since `resumableSince` that are the latest attempt of their
    /// chain (they can still be resumed, and a resumed attempt works in the same workspace). A workspace is named
    /// after the first run of its resume chain, so a resumed attempt keeps its chain's one.
    /// - Parameter seconds: how far back a Failed or Crashed run counts as resumable.
    public func workspacesInUse(resumableFor seconds: Int) async throws -> WorkspacesInUse {
        let resumableSince = clock().addingTimeInterval(-Double(seconds))
        var holders: [FlowRun] = try await allRuns(RunFilter(activeOnly: true, limit: 500))
        for state in [FlowRunState.failed, .crashed] {
            for run in try await allRuns(RunFilter(state: state, createdAfter: resumableSince, limit: 500)) {
                let first = run.retryOf ?? run.id
                let latest = try await store.runs(RunFilter(attemptsOf: first, limit: 10_000)).runs.map(\.attempt).max() ?? run.attempt
                if run.attempt >= latest { holders.append(run) }
            }
        }
        var roots = Set<FlowRunID>()
        var known: [FlowRunID: FlowRunID] = [:]
        for run in holders { roots.insert(try await workspaceRoot(of: run, known: &known)) }
        return WorkspacesInUse(workspaceIDs: roots.sorted(), resumableSince: resumableSince)
    }

    /// The first run of `run`'s resume chain (at most 100 links back), whose id names the chain's workspace.
    private func workspaceRoot(of run: FlowRun, known: inout [FlowRunID: FlowRunID]) async throws -> FlowRunID {
        var current = run
        var visited: [FlowRunID] = []
        for _ in 0..<100 {
            if known[current.id] != nil { break }
            visited.append(current.id)
            guard let earlier = current.resumeOf, let previous = try await store.run(id: earlier, includeHistory: false) else { break }
            current = previous
        }
        let root = known[current.id] ?? current.id
        for id in visited { known[id] = root }
        return root
    }

    /// Every run matching `filter`, page by page.
    private func allRuns(_ filter: RunFilter) async throws -> [FlowRun] {
        var runs: [FlowRun] = []
        var page = filter
        while true {
            let batch = try await store.runs(page).runs
            runs += batch
            guard batch.count == page.limit else { return runs }
            page.offset += batch.count
        }
    }
}
