import ArgumentParser
import FathomCore
import FathomServer
import Foundation
import Logging

/// `fathom db`: the coordinator's database.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "The coordinator's database.", subcommands: [MigrateFromSQLiteCommand.self])
}

/// `fathom db migrate-from-sqlite PATH`: an embedded coordinator's data into PostgreSQL.
struct MigrateFromSQLiteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-from-sqlite",
        abstract: "Copy an embedded coordinator's database (fathom.sqlite) into an empty PostgreSQL database.",
        discussion: """
            Every flow, version, run (with its history, task runs and log lines), agent, schedule and limit is copied \
            in one PostgreSQL transaction: all of it, or nothing. Stop the embedded coordinator first, so that nothing \
            it writes afterwards is left behind. Bundles are not copied: versions keep their storage URLs, so give the \
            new coordinators the same --storage (a shared directory, or S3).
            """)

    @Argument(help: "The SQLite database, e.g. ~/.fathom/fathom.sqlite.")
    var path: String

    @Option(help: "The PostgreSQL database to fill: postgres://USER:PASSWORD@HOST:5432/DB?sslmode=require (env: FATHOM_DATABASE_URL).")
    var database: String?

    func run() async throws {
        guard let url = database ?? ProcessInfo.processInfo.environment["FATHOM_DATABASE_URL"], !url.isEmpty else {
            throw ValidationError("name the PostgreSQL database: --database postgres://USER@HOST:5432/DB, or set FATHOM_DATABASE_URL")
        }
        let settings: PostgresSettings
        do {
            settings = try PostgresSettings(url: url)
        } catch {
            throw ValidationError(error.description)
        }
        var logger = Logger(label: "fathom.db")
        logger.logLevel = .warning
        let store = try await PostgresStore.connect(settings, maximumConnections: 2, logger: logger)
        defer { Task { await store.shutdown() } }
        let expanded = (path as NSString).expandingTildeInPath
        let counts = try await SQLiteToPostgres.copy(sqlitePath: expanded, to: store)
        for (table, rows) in counts { print("\(table): \(rows) rows") }
        print("copied \(expanded) into \(settings); start the coordinators with --database (or FATHOM_DATABASE_URL)")
    }
}
