import FathomAPI
import FathomCore
import Foundation
import Logging
import PostgresNIO

extension PostgresStore: RunOutputStore {
    public func appendLogs(
        runID: FlowRunID, _ logs: [LogEntry], infrastructure: [String: String], afterEnd: LinesAfterEnd, batchID: String?
    ) async throws -> LogAccepted {
        do {
            return try await transaction { connection in
                try await appendLogs(connection, runID: runID, logs, infrastructure: infrastructure, afterEnd: afterEnd, batchID: batchID)
            }
        } catch is RepeatedLogBatch {
            // Everything this attempt wrote was rolled back; the first acceptance's answer stands.
            return try await transaction { connection in
                try await Self.acceptedBefore(connection, runID: runID, batchID: batchID ?? "", logger: logger)
            } ?? LogAccepted(accepted: 0, lastSeq: 0, repeated: true)
        }
    }

    /// Thrown inside the transaction when its batch id was accepted before, so that nothing it wrote stays.
    private struct RepeatedLogBatch: Error {}

    private static func acceptedBefore(_ connection: PostgresConnection, runID: FlowRunID, batchID: String, logger: Logger) async throws -> LogAccepted? {
        try await row(
            connection, "SELECT accepted, last_seq FROM log_batches WHERE run_id = \(runID) AND batch_id = \(batchID)", logger: logger
        ) { LogAccepted(accepted: try $0.integer("accepted"), lastSeq: Int64(try $0.integer("last_seq")), repeated: true) }
    }

    /// The lines, the batch id and the facts in one round trip each for the run's row and the lines (the common path:
    /// a batch not seen before); a repeat is found by the batch id's insert and rolled back.
    private func appendLogs(
        _ connection: PostgresConnection, runID: FlowRunID, _ logs: [LogEntry], infrastructure: [String: String], afterEnd: LinesAfterEnd,
        batchID: String?
    ) async throws -> LogAccepted {
        if !infrastructure.isEmpty {
            guard try await mergeInfrastructure(connection, runID: runID, facts: infrastructure, at: nil) else {
                throw StoreError.runNotFound(runID)
            }
        }
        // The run's row stays locked until the end of the transaction: lines from several coordinators get one
        // unbroken sequence, and a second attempt at the same batch waits here for the first to commit.
        guard let (last, state, endedAt) = try await Self.row(
            connection,
            "UPDATE flow_runs SET log_seq = log_seq + \(logs.count) WHERE id = \(runID) RETURNING log_seq, state, ended_at",
            logger: logger, { (Int64(try $0.integer("log_seq")), try $0.text("state"), try $0.optionalReal("ended_at")) })
        else { throw StoreError.runNotFound(runID) }
        var lateAfter: Date?
        if let state = FlowRunState(rawValue: state), state.isFinal {
            switch afterEnd {
            case .keep: break
            case .markLate: lateAfter = endedAt.map(Date.init(timeIntervalSince1970:)) ?? .distantPast
            case .refuse:
                // A batch accepted before the end and sent again after it is answered, not refused.
                if let batchID, try await Self.acceptedBefore(connection, runID: runID, batchID: batchID, logger: logger) != nil {
                    throw RepeatedLogBatch()
                }
                throw StoreError.runFinal(runID, state)  // rolls back the sequence and the facts
            }
        }
        guard !logs.isEmpty else { return LogAccepted(accepted: 0, lastSeq: last) }
        let first = last - Int64(logs.count) + 1
        let sequence = (0..<logs.count).map { first + Int64($0) }
        let times = logs.map { $0.timestamp.timeIntervalSince1970 }
        let levels = logs.map(\.level.rawValue), messages = logs.map(\.message), sources = logs.map(\.source.rawValue)
        let tasks = logs.map { $0.taskRunID ?? "" }
        let late = logs.map { entry in lateAfter.map { entry.timestamp > $0 } ?? false }
        // One statement for the batch id and the whole batch, its columns as arrays: the lines are written only when
        // the id was new (a batch without an id always is).
        let fresh = try await Self.row(
            connection,
            """
            WITH batch AS (
                INSERT INTO log_batches (run_id, batch_id, accepted, last_seq)
                SELECT \(runID), \(batchID), \(logs.count), \(last) WHERE \(batchID)::text IS NOT NULL
                \(unescaped: StoreSQL.claimLogBatch)),
            lines AS (
                INSERT INTO logs (run_id, seq, ts, level, message, task_run_id, source, late)
                SELECT \(runID), seq, ts, level, message, NULLIF(task, ''), source, late
                FROM UNNEST(\(sequence)::bigint[], \(times)::double precision[], \(levels)::text[], \(messages)::text[],
                    \(tasks)::text[], \(sources)::text[], \(late)::boolean[]) AS line(seq, ts, level, message, task, source, late)
                WHERE \(batchID)::text IS NULL OR EXISTS (SELECT 1 FROM batch))
            SELECT \(batchID)::text IS NULL OR EXISTS (SELECT 1 FROM batch) AS fresh
            """, logger: logger, { try $0.flag("fresh") })
        guard fresh == true else { throw RepeatedLogBatch() }
        return LogAccepted(accepted: logs.count, lastSeq: last)
    }

    public func logs(runID: FlowRunID, after: Int64, limit: Int) async throws -> [LogLine] {
        try await transaction { connection in
            try await Self.rows(
                connection, "SELECT * FROM logs WHERE run_id = \(runID) AND seq > \(after) ORDER BY seq LIMIT \(limit)", logger: logger,
                StoreRows.logLine)
        }
    }

    public func logTail(runID: FlowRunID, limit: Int) async throws -> [LogLine] {
        try await transaction { connection in
            try await Self.rows(
                connection, "SELECT * FROM logs WHERE run_id = \(runID) ORDER BY seq DESC LIMIT \(limit)", logger: logger, StoreRows.logLine
            ).reversed()
        }
    }

    public func upsertTaskRuns(runID: FlowRunID, _ updates: [TaskRunUpdate]) async throws {
        try await transaction { connection in
            guard try await Self.row(connection, "SELECT id FROM flow_runs WHERE id = \(runID)", logger: logger, { try $0.text("id") }) != nil else {
                throw StoreError.runNotFound(runID)
            }
            for update in updates {
                let result = try update.result.map { try StoreJSON.text($0) }
                let outputs = try update.outputs.map { try StoreJSON.text($0) }
                let reference = try update.resultRef.map { try StoreJSON.text($0) }
                try await connection.query(
                    """
                    INSERT INTO task_runs (id, run_id, name, state, attempt, started_at, ended_at, message, result, cache_key, cached_from,
                        outputs, result_ref)
                    VALUES (\(update.id), \(runID), \(update.name), \(update.state.rawValue), \(update.attempt),
                        \(update.startedAt?.timeIntervalSince1970), \(update.endedAt?.timeIntervalSince1970), \(update.message), \(result),
                        \(update.cacheKey), \(update.cachedFrom), \(outputs), \(reference))
                    \(unescaped: StoreSQL.taskRunMerge)
                    """, logger: logger)
            }
        }
    }

    public func taskRuns(runID: FlowRunID) async throws -> [TaskRunUpdate] {
        try await transaction { connection in
            try await Self.rows(connection, "SELECT * FROM task_runs WHERE run_id = \(runID) ORDER BY seq", logger: logger, StoreRows.taskRun)
        }
    }
}
