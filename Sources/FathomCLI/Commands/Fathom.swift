import ArgumentParser

/// The `fathom` command.
public struct Fathom: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fathom",
        abstract: "Run Swift data flows on this machine or as ECS tasks with EFS volumes.",
        subcommands: [
            DemoCommand.self, DevCommand.self, ServerCommand.self, AgentCommand.self, RegisterCommand.self,
            RunCommand.self, RunsCommand.self, LogsCommand.self, CancelCommand.self, RetryCommand.self, FlowsCommand.self, UsageCommand.self,
            ScheduleCommand.self, LimitCommand.self, AlertCommand.self, ExecuteCommand.self, DatabaseCommand.self, AWSCommand.self, ECSCommand.self, InfraCommand.self, SortCommand.self, BZip2Command.self, BUnzip2Command.self, BZCatCommand.self, VolumeCommand.self,
        ])

    public init() {}
}
