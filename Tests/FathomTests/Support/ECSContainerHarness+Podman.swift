import AWS
import FathomCore
import Foundation

/// Real containers: when moto reports a task, its container runs under podman from the registered
/// task definition, as the ECS agent would hand it to Docker:
/// - the task's entryPoint replaces the image's ENTRYPOINT (`--entrypoint`), RunTask's command replaces
///   CMD (the arguments after the image), and podman joins them with the image's as Docker does;
/// - the container's and the override's environment;
/// - the container's user, and its memory (else the task's) as a hard limit (`--memory`: a real OOM kill);
/// - each EFS mount point bound to the test's "EFS" directory;
/// - the host's network, with the runner URL's host name resolving to the coordinator's loopback address.
/// Any image name resolves to the runner image built for the test (the harness plays the registry).
/// When the container exits, its output goes to the task's CloudWatch stream, its exit is reported
/// (``ECSContainerHarness/onExit``), and the task is stopped, as ECS does when an essential container exits.
extension ECSContainerHarness {
    static func containerName(_ arn: String) -> String {
        "fathom-task-" + (arn.split(separator: "/").last.map(String.init) ?? UUID().uuidString)
    }

    func podmanStep(_ task: ECSTask, arn: String, image: String, coordinatorHost: String) async {
        let name = Self.containerName(arn)
        let known = containers.value[arn] != nil
        if task.lastStatus == "STOPPED" {
            // StopTask stops the container (SIGTERM, then SIGKILL after the stop timeout), as the ECS agent does; its
            // output goes to CloudWatch and its exit is reported.
            guard known, handled.withLock({ $0.insert(arn).inserted }) else { return }
            _ = try? await Podman.run(["stop", "--time", "10", name])
            let state = try? await Podman.run(["inspect", "--format", "{{.State.ExitCode}}", name])
            await putLogs((try? await Podman.run(["logs", name]).output) ?? [], arn: arn)
            onExit.value?(arn, state?.output.first.flatMap { Int32($0) } ?? 137, nil)
            return
        }
        if ignored.value.contains(arn) || handled.value.contains(arn) { return }
        guard known else {
            await podmanLaunch(task, arn: arn, name: name, image: image, coordinatorHost: coordinatorHost)
            return
        }
        guard let state = try? await Podman.run(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}", name]),
              state.status == 0, let fields = state.output.first?.split(separator: " "), fields.count == 3, fields[0] == "exited"
        else { return }
        guard handled.withLock({ $0.insert(arn).inserted }) else { return }
        let code = Int32(fields[1]) ?? -1
        // SIGKILL that nobody sent: the kernel's OOM killer (podman's OOMKilled flag stays false under
        // cgroup v1 here). The ECS agent reports it as OutOfMemoryError.
        let killedForMemory = fields[2] == "true" || code == 137
        let reason = killedForMemory ? "OutOfMemoryError: Container killed due to memory usage" : nil
        let output = (try? await Podman.run(["logs", name]).output) ?? []
        await putLogs(output, arn: arn)
        onExit.value?(arn, code, reason)
        _ = try? await ecs.stopTask(cluster: cluster, task: arn, reason: "Essential container in task exited")
    }

    func podmanLaunch(_ task: ECSTask, arn: String, name: String, image: String, coordinatorHost: String) async {
        let (container, override, taskDefinition) = await definitionAndOverride(task)
        var arguments = ["run", "--detach", "--name", name, "--network", "host", "--add-host", "\(coordinatorHost):127.0.0.1"]
        arguments += Podman.ulimits
        if let entryPoint = container["entryPoint"].arrayValue?.compactMap(\.stringValue) {
            let json = String(decoding: (try? JSONEncoder().encode(entryPoint)) ?? Data("[]".utf8), as: UTF8.self)
            arguments += ["--entrypoint", json]
        }
        for variable in (container["environment"].arrayValue ?? []) + (override["environment"].arrayValue ?? []) {
            if let key = variable["name"].stringValue, let value = variable["value"].stringValue { arguments += ["--env", "\(key)=\(value)"] }
        }
        if let user = container["user"].stringValue { arguments += ["--user", user] }
        // RunTask's overrides win over the task definition, as in ECS: the task's memory, then the container's own.
        var memory = (task.overrides?["memory"].stringValue ?? taskDefinition["memory"].stringValue).flatMap { Int($0) }
        if case .int(let containerMemory) = override["memory"] != .null ? override["memory"] : container["memory"] { memory = Int(containerMemory) }
        if let memory { arguments += ["--memory", "\(memory)m", "--memory-swap", "\(memory)m"] }
        let efsVolumes = Set((taskDefinition["volumes"].arrayValue ?? []).filter { $0["efsVolumeConfiguration"] != .null }.compactMap { $0["name"].stringValue })
        for mount in container["mountPoints"].arrayValue ?? [] {
            guard let volume = mount["sourceVolume"].stringValue, efsVolumes.contains(volume), let path = mount["containerPath"].stringValue else { continue }
            arguments += ["--volume", "\(efsDirectory):\(path)\(mount["readOnly"] == .bool(true) ? ":ro" : "")"]
        }
        arguments.append(image)
        let command = override["command"].arrayValue ?? container["command"].arrayValue
        arguments += (command ?? []).compactMap(\.stringValue)
        containers.withLock { $0[arn] = name }
        podmanRuns.withLock { $0[arn] = Podman.runtimeArguments + arguments }
        if let started = try? await Podman.run(Podman.runtimeArguments + arguments), started.status != 0 {
            // The engine refused the container (as Docker would an unknown executable): ECS reports CannotStartContainerError.
            handled.withLock { _ = $0.insert(arn) }
            await putLogs(started.output, arn: arn)
            onExit.value?(arn, 127, "CannotStartContainerError: \(started.output.last ?? "podman run failed")")
            _ = try? await ecs.stopTask(cluster: cluster, task: arn, reason: "Essential container in task exited")
        }
    }
}
