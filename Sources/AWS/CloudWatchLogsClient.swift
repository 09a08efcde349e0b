import FathomCore
import Foundation

/// CloudWatch Logs, JSON 1.1.
public struct CloudWatchLogsClient: Sendable {
    let caller: JSONProtocolCaller

    public init(client: AWSClient) {
        caller = JSONProtocolCaller(client: client, service: .logs, targetPrefix: "Logs_20140328")
    }

    /// Any CloudWatch Logs action with AWS-shaped JSON in and out.
    public func call(_ action: String, _ input: JSONValue) async throws -> JSONValue {
        try await caller.call(AWSOperation(.logs, action), input)
    }

    /// The names of the log groups whose names start with `prefix`, following `nextToken`.
    public func describeLogGroups(prefix: String) async throws -> [String] {
        var names: [String] = []
        var token: String?
        repeat {
            let output: DescribeLogGroupsOutput = try await caller.call(
                AWSOperation.Logs.describeLogGroups, DescribeLogGroupsInput(logGroupNamePrefix: prefix, nextToken: token))
            names += (output.logGroups ?? []).compactMap(\.logGroupName)
            token = output.nextToken
        } while token != nil
        return names
    }

    /// One page of a stream's events from `nextToken` (or the start). At the end, the returned
    /// token equals the one passed in.
    public func getLogEvents(
        group: String, stream: String, startTime: Int64? = nil, nextToken: String? = nil, limit: Int? = nil
    ) async throws -> LogEventsPage {
        let output: GetLogEventsOutput = try await caller.call(AWSOperation.Logs.getLogEvents, GetLogEventsInput(
            logGroupName: group, logStreamName: stream, startTime: startTime, nextToken: nextToken, limit: limit,
            startFromHead: true))
        return LogEventsPage(
            events: (output.events ?? []).map { LogEvent(stream: stream, timestamp: $0.timestamp ?? 0, message: $0.message ?? "") },
            nextToken: output.nextForwardToken)
    }

    /// Every event of the whole stream from `startTime`, following tokens until they stop changing.
    public func allLogEvents(group: String, stream: String, startTime: Int64? = nil) async throws -> [LogEvent] {
        var events: [LogEvent] = []
        var token: String?
        while true {
            let page = try await getLogEvents(group: group, stream: stream, startTime: token == nil ? startTime : nil, nextToken: token)
            events += page.events
            if page.nextToken == nil || page.nextToken == token || page.events.isEmpty { return events }
            token = page.nextToken
        }
    }

    /// Events across streams, following `nextToken`.
    public func filterLogEvents(
        group: String, streamNames: [String]? = nil, streamPrefix: String? = nil, startTime: Int64? = nil, endTime: Int64? = nil,
        pageSize: Int? = nil
    ) async throws -> [LogEvent] {
        var events: [LogEvent] = []
        var token: String?
        repeat {
            let output: FilterLogEventsOutput = try await caller.call(AWSOperation.Logs.filterLogEvents, FilterLogEventsInput(
                logGroupName: group, logStreamNames: streamNames, logStreamNamePrefix: streamPrefix, startTime: startTime,
                endTime: endTime, nextToken: token, limit: pageSize))
            events += (output.events ?? []).map {
                LogEvent(stream: $0.logStreamName ?? "", timestamp: $0.timestamp ?? 0, message: $0.message ?? "")
            }
            token = output.nextToken
        } while token != nil
        return events
    }
}

/// One CloudWatch log event.
public struct LogEvent: Sendable, Equatable {
    public var stream: String
    /// Milliseconds since 1970.
    public var timestamp: Int64
    public var message: String
}

public struct LogEventsPage: Sendable {
    public var events: [LogEvent]
    public var nextToken: String?
}

struct GetLogEventsInput: Encodable {
    var logGroupName: String
    var logStreamName: String
    var startTime: Int64?
    var nextToken: String?
    var limit: Int?
    var startFromHead: Bool?
}

struct GetLogEventsOutput: Decodable {
    struct Event: Decodable {
        var timestamp: Int64?
        var message: String?
    }

    var events: [Event]?
    var nextForwardToken: String?
}

struct FilterLogEventsInput: Encodable {
    var logGroupName: String
    var logStreamNames: [String]?
    var logStreamNamePrefix: String?
    var startTime: Int64?
    var endTime: Int64?
    var nextToken: String?
    var limit: Int?
}

struct FilterLogEventsOutput: Decodable {
    struct Event: Decodable {
        var logStreamName: String?
        var timestamp: Int64?
        var message: String?
    }

    var events: [Event]?
    var nextToken: String?
}

struct DescribeLogGroupsInput: Encodable {
    var logGroupNamePrefix: String
    var nextToken: String?
}

struct DescribeLogGroupsOutput: Decodable {
    struct Group: Decodable { var logGroupName: String? }
    var logGroups: [Group]?
    var nextToken: String?
}
