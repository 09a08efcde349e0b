import FathomAPI
import FathomClient
import FathomCore
import Foundation
import Testing

/// What schemathesis found against docs/openapi.yaml, one case each: the server now answers as the
/// spec says (405 with Allow, repeated or malformed query values refused, unknown launchers refused,
/// every RFC 3339 date-time read).
@Suite struct ContractTests {
    @Test func aPathAskedWithAMethodItDoesNotServeAnswers405WithAllow() async throws {
        try await withCoordinator { coordinator, _ in
            for (method, path, allow) in [
                ("DELETE", "/api/v1/flow-runs", "GET, HEAD, POST"), ("TRACE", "/healthz", "GET, HEAD"),
                ("PUT", "/api/v1/agents", "GET, HEAD, POST"), ("PATCH", "/api/v1/flow-runs/\(Identifier.make())/logs", "GET, HEAD, POST"),
            ] {
                let answer = try await RawHTTP.send(.init(rawValue: method), coordinator.url + path)
                #expect(answer.status == 405, "\(method) \(path): \(answer.status)")
                #expect(answer.headers["allow"] == allow, "\(method) \(path): \(answer.headers["allow"] ?? "no Allow")")
                #expect(answer.error?.error.code == "method_not_allowed")
            }
            #expect(try await RawHTTP.send(.GET, coordinator.url + "/api/v1/nothing-here").status == 404, "an unknown path is still 404")
        }
    }

    @Test func queryValuesAreReadStrictly() async throws {
        try await withCoordinator { coordinator, _ in
            for query in ["active=null", "active=yes", "active=true&active=true", "limit=5&limit=6"] {
                let answer = try await RawHTTP.send(.GET, coordinator.url + "/api/v1/flow-runs?\(query)")
                #expect(answer.status == 400, "\(query): \(answer.status) \(answer.body)")
            }
            #expect(try await RawHTTP.send(.GET, coordinator.url + "/api/v1/flow-runs?active=true").status == 200)
        }
    }

    /// A created schedule is there under its id and under its name until one of them removes it.
    @Test func aCreatedScheduleIsFoundAndRemovedByIdOrName() async throws {
        try await withCoordinator { _, client in
            try await registerTestFlows(client)
            let byID = try await client.createSchedule(CreateScheduleRequest(flow: "ticker", name: "by-id", cron: "30 2 * * *"))
            #expect(try await client.schedule(byID.id).name == "by-id")
            #expect(try await client.deleteSchedule(byID.id).id == byID.id)
            let byName = try await client.createSchedule(CreateScheduleRequest(flow: "ticker", name: "by-name", cron: "30 2 * * *"))
            #expect(try await client.deleteSchedule("by-name").id == byName.id)
            await #expect(throws: APIClientError.self, "gone under its id too") { try await client.schedule(byName.id) }
        }
    }

    @Test func agentsNameTheirQueueAndLauncherAsTheSpecSays() async throws {
        try await withCoordinator { coordinator, _ in
            // Not a launcher at all: the body does not have the documented shape (an enum), 400 naming the field.
            let unknown = try await RawHTTP.send(.POST, coordinator.url + "/api/v1/agents", body: #"{"name":"a","queue":"q","labels":{},"launcher":"AAA"}"#)
            #expect(unknown.status == 400 && unknown.error?.error.field == "launcher" && unknown.body.contains("local, ecs"), "\(unknown.status) \(unknown.body)")
            for (body, field) in [
                (#"{"name":"a","queue":"","labels":{},"launcher":"local"}"#, "queue"),
                (#"{"name":"","queue":"q","labels":{},"launcher":"local"}"#, "name"),
            ] {
                let answer = try await RawHTTP.send(.POST, coordinator.url + "/api/v1/agents", body: body)
                #expect(answer.status == 422 && answer.error?.error.field == field, "\(body): \(answer.status) \(answer.body)")
            }
        }
    }

    @Test func logReadsStartAtZeroAndTaskRunsAreWhatTheSDKSends() async throws {
        try await withCoordinator { coordinator, client in
            try await registerTestFlows(client)
            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            let negative = try await RawHTTP.send(.GET, coordinator.url + "/api/v1/flow-runs/\(run.id)/logs?after=-1")
            #expect(negative.status == 400 && negative.error?.error.field == "after", "\(negative.body)")
            for (taskRun, field) in [
                (#"{"id":"","name":"a","state":"Pending","attempt":1}"#, "taskRuns[0].id"),
                (#"{"id":"t","name":"","state":"Pending","attempt":1}"#, "taskRuns[0].name"),
                (#"{"id":"t","name":"a","state":"Pending","attempt":0}"#, "taskRuns[0].attempt"),
            ] {
                let answer = try await RawHTTP.send(.POST, coordinator.url + "/api/v1/flow-runs/\(run.id)/task-runs", body: #"{"taskRuns":[\#(taskRun)]}"#)
                #expect(answer.status == 422 && answer.error?.error.field == field, "\(taskRun): \(answer.status) \(answer.body)")
            }
            #expect(try await client.taskRuns(run.id).isEmpty, "nothing half-written")
            let nulls = #"{"taskRuns":[{"id":"t","name":"a","state":"Running","attempt":1,"startedAt":null,"endedAt":null,"message":null}]}"#
            #expect(try await RawHTTP.send(.POST, coordinator.url + "/api/v1/flow-runs/\(run.id)/task-runs", body: nulls).status == 201, "null is absent")
        }
    }

    @Test func theWebUIAnswersInHTMLAndTakesTheTokenFromScripts() async throws {
        try await withCoordinator(token: "ui-contract") { coordinator, client in
            try await registerTestFlows(client)
            let bearer = ["Authorization": "Bearer ui-contract"]
            let log = try await RawHTTP.send(.GET, coordinator.url + "/runs/\(Identifier.make())/log.txt", headers: bearer)
            #expect(log.status == 404 && log.headers["content-type"]?.hasPrefix("text/html") == true, "a page's refusal is a page")
            let pause = try await RawHTTP.send(.POST, coordinator.url + "/schedules/nothing/pause", body: "", headers: bearer)
            #expect(pause.status == 404 && pause.body.contains("<!doctype html>") && pause.body.contains("nothing"), "\(pause.body.prefix(300))")
            let trace = try await RawHTTP.send(.init(rawValue: "TRACE"), coordinator.url + "/runs")
            #expect(trace.status == 405 && trace.headers["allow"] == "GET, HEAD, POST", "a wrong method is said before sign-in")
            let logout = try await RawHTTP.send(.POST, coordinator.url + "/logout", body: "")
            #expect(logout.status == 303 && logout.headers["location"] == "/login", "signing out needs no session")
            let events = try await RawHTTP.send(.GET, coordinator.url + "/runs/\(Identifier.make())/events?after=-1", headers: bearer)
            #expect(events.status == 400, "\(events.status)")
        }
    }

    struct Stamped: Codable {
        var at: Date
    }

    @Test func everyRFC3339DateTimeIsRead() throws {
        func read(_ text: String) -> Date? {
            try? APICoding.decode(Stamped.self, from: Data(#"{"at":"\#(text)"}"#.utf8)).at
        }
        #expect(read("2026-11-30T17:45:12.000Z") == Date(timeIntervalSince1970: 1_796_060_712))
        #expect(read("2026-11-30T18:45:12+01:00") == Date(timeIntervalSince1970: 1_796_060_712))
        #expect(read("2026-11-30T17:45:12.5Z")?.timeIntervalSince1970 == 1_796_060_712.5, "any number of fraction digits")
        #expect(read("0008-07-09T10:41:35.89-20:30") != nil, "years from 0000 and offsets up to 23:59")
        #expect(read("2024-02-29T00:00:00Z") != nil && read("2023-02-29T00:00:00Z") == nil, "leap years")
        #expect(read("506713-02-07T00:00:00.000Z") != nil, "a year past 9999, as Fathom writes far-off stored values")
        for bad in ["2026-13-01T00:00:00Z", "2026-11-30T24:00:00Z", "2026-11-30T17:45Z", "2026-11-30", "2026-11-30T17:45:12", "2026-11-30T17:45:12+24:00", "2026-11-30T17:45:12.Z", ""] {
            #expect(read(bad) == nil, "\(bad) is not an RFC 3339 date-time")
        }
    }
}
