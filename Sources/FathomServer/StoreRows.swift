import FathomAPI
import FathomCore
import Foundation

/// A database row as the stores' mappings read it, by column name, whatever the database.
protocol StoreRow {
    func text(_ column: String) throws -> String
    func optionalText(_ column: String) throws -> String?
    func real(_ column: String) throws -> Double
    func optionalReal(_ column: String) throws -> Double?
    func integer(_ column: String) throws -> Int
    func flag(_ column: String) throws -> Bool
}

/// JSON columns, written and read with the API's coders (the same text in every store).
enum StoreJSON {
    static func text<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try APICoding.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try APICoding.decode(type, from: Data(text.utf8))
    }
}

/// SQL both stores write with the same text.
enum StoreSQL {
    /// The tables whose rows belong to one run (column `run_id`), deleted with it.
    static let perRunTables = ["logs", "log_batches", "state_history", "task_runs"]

    /// The log batch ids a run has accepted: one row per batch sent with an id, deleted with the run.
    static let logBatchesTable = """
        CREATE TABLE log_batches (
            run_id TEXT NOT NULL, batch_id TEXT NOT NULL, accepted BIGINT NOT NULL, last_seq BIGINT NOT NULL,
            PRIMARY KEY (run_id, batch_id))
        """
    /// Records a batch id before its lines are written (`last_seq` set after); no row comes back when the run
    /// accepted that id before. On PostgreSQL a concurrent insert of the same id waits for the first to commit.
    static let claimLogBatch = "ON CONFLICT (run_id, batch_id) DO NOTHING RETURNING run_id"

    /// How a task run update merges into the stored row: its first start time, cache key, source run and outputs stay
    /// unless the update has them; a task run never moves to another flow run.
    static let taskRunMerge = """
        ON CONFLICT (id) DO UPDATE SET state = excluded.state, attempt = excluded.attempt,
            started_at = COALESCE(excluded.started_at, task_runs.started_at),
            ended_at = excluded.ended_at, message = excluded.message, result = excluded.result, result_ref = excluded.result_ref,
            cache_key = COALESCE(excluded.cache_key, task_runs.cache_key),
            cached_from = COALESCE(excluded.cached_from, task_runs.cached_from),
            outputs = COALESCE(excluded.outputs, task_runs.outputs)
        WHERE task_runs.run_id = excluded.run_id
        """
}

/// Row → API type mapping, shared by the SQLite and PostgreSQL stores (the same columns in both).
enum StoreRows {
    static func version(_ row: some StoreRow) throws -> FlowVersion {
        FlowVersion(
            id: try row.text("id"), flowName: try row.text("flow_name"), version: try row.integer("version"),
            bundleSHA256: try row.text("bundle_sha256"), storageURL: try row.text("storage_url"), summary: try row.text("summary"),
            parameters: try StoreJSON.decode([ParameterSpec].self, try row.text("parameters")),
            runConfig: try StoreJSON.decode(RunConfig.self, try row.text("run_config")),
            labels: try StoreJSON.decode([String: String].self, try row.text("labels")), queue: try row.text("queue"),
            createdAt: Date(timeIntervalSince1970: try row.real("created_at")),
            retryPolicy: try row.optionalText("retry_policy").map { try StoreJSON.decode(RunRetryPolicy.self, $0) })
    }

    static func run(_ row: some StoreRow, history: [StateChange]?) throws -> FlowRun {
        func date(_ column: String) throws -> Date? { try row.optionalReal(column).map(Date.init(timeIntervalSince1970:)) }
        return FlowRun(
            id: try row.text("id"), flowName: try row.text("flow_name"), flowVersion: try row.integer("flow_version"),
            versionID: try row.text("version_id"),
            parameters: try StoreJSON.decode([String: JSONValue].self, try row.text("parameters")),
            state: FlowRunState(rawValue: try row.text("state")) ?? .crashed, stateMessage: try row.text("state_message"),
            queue: try row.text("queue"), agentID: try row.optionalText("agent_id"),
            createdAt: Date(timeIntervalSince1970: try row.real("created_at")), updatedAt: Date(timeIntervalSince1970: try row.real("updated_at")),
            startedAt: try date("started_at"), endedAt: try date("ended_at"), heartbeatAt: try date("heartbeat_at"),
            infrastructure: try StoreJSON.decode([String: String].self, try row.text("infrastructure")), history: history,
            scheduleID: try row.optionalText("schedule_id"), scheduledFor: try date("scheduled_for"), late: try row.flag("late"),
            attempt: try row.integer("attempt"), retryOf: try row.optionalText("retry_of"), resumeOf: try row.optionalText("resume_of"),
            endCause: try row.optionalText("end_cause").flatMap(EndCause.init(rawValue:)),
            overrides: try row.optionalText("overrides").map { try StoreJSON.decode(RunOverrides.self, $0) }.flatMap { $0.isValid ? $0 : nil },
            // Tags a database holds that this version would refuse are left out, not trusted.
            tags: ((try? row.optionalText("tags")).flatMap { $0 }.flatMap { try? StoreJSON.decode([String].self, $0) } ?? []).filter(RunTags.isValid))
    }

    static func digest(_ row: some StoreRow) throws -> RunDigest {
        func date(_ column: String) throws -> Date? { try row.optionalReal(column).map(Date.init(timeIntervalSince1970:)) }
        return RunDigest(
            id: try row.text("id"), state: FlowRunState(rawValue: try row.text("state")) ?? .crashed,
            createdAt: Date(timeIntervalSince1970: try row.real("created_at")), startedAt: try date("started_at"), endedAt: try date("ended_at"),
            costText: try row.optionalText("cost"), bytesText: try row.optionalText("bytes"))
    }

    static func schedule(_ row: some StoreRow) throws -> Schedule {
        Schedule(
            id: try row.text("id"), name: try row.text("name"), flowName: try row.text("flow_name"), cron: try row.optionalText("cron"),
            timezone: try row.optionalText("timezone"), intervalSeconds: try row.optionalReal("interval_seconds"),
            anchor: try row.optionalReal("anchor").map(Date.init(timeIntervalSince1970:)),
            parameters: try StoreJSON.decode([String: JSONValue].self, try row.text("parameters")), paused: try row.flag("paused"),
            createdAt: Date(timeIntervalSince1970: try row.real("created_at")), updatedAt: Date(timeIntervalSince1970: try row.real("updated_at")),
            lastError: try row.optionalText("last_error"))
    }

    static func logLine(_ row: some StoreRow) throws -> LogLine {
        LogLine(
            seq: Int64(try row.integer("seq")), timestamp: Date(timeIntervalSince1970: try row.real("ts")),
            level: LogLevel(rawValue: try row.text("level")), message: try row.text("message"),
            taskRunID: try row.optionalText("task_run_id"), source: LogSource(rawValue: try row.text("source")), late: try row.flag("late"))
    }

    static func taskRun(_ row: some StoreRow) throws -> TaskRunUpdate {
        TaskRunUpdate(
            id: try row.text("id"), name: try row.text("name"), state: TaskRunState(rawValue: try row.text("state")) ?? .failed,
            attempt: try row.integer("attempt"), startedAt: try row.optionalReal("started_at").map(Date.init(timeIntervalSince1970:)),
            endedAt: try row.optionalReal("ended_at").map(Date.init(timeIntervalSince1970:)), message: try row.optionalText("message"),
            result: try row.optionalText("result").map { try StoreJSON.decode(JSONValue.self, $0) },
            cacheKey: try row.optionalText("cache_key"), cachedFrom: try row.optionalText("cached_from"),
            outputs: try row.optionalText("outputs").map { try StoreJSON.decode([TaskOutputFile].self, $0) },
            resultRef: try row.optionalText("result_ref").map { try StoreJSON.decode(TaskResultReference.self, $0) })
    }

    static func agent(_ row: some StoreRow, runsInFlight: Int) throws -> AgentInfo {
        let id = try row.text("id"), launcher = try row.text("launcher")
        guard let kind = LauncherKind(rawValue: launcher) else {
            throw StoreError.conflict("agent \(id) has launcher '\(launcher.prefix(100))' in the database, which this Fathom does not know")
        }
        return AgentInfo(
            id: id, name: try row.text("name"), queue: try row.text("queue"),
            labels: try StoreJSON.decode([String: String].self, try row.text("labels")), launcher: kind,
            lastSeenAt: Date(timeIntervalSince1970: try row.real("last_seen_at")), runsInFlight: runsInFlight,
            instance: try row.optionalText("instance"), host: try row.optionalText("host"))
    }
}
