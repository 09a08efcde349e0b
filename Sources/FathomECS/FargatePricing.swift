import FathomCore
import Foundation

/// What a Fargate task costs, estimated the way AWS bills it: the task's vCPU and memory (and ephemeral storage over
/// the 20 GiB every task gets) × the time "from the time you start to download your container image until the
/// Amazon ECS Task … terminates, rounded up to the nearest second", with a one-minute minimum (AWS Fargate pricing,
/// aws.amazon.com/fargate/pricing). EC2 capacity is billed by the instance, so an EC2 task gets no estimate.
public struct FargatePricing: Sendable, Equatable {
    /// USD per hour for one region, architecture and capacity (on-demand or Spot).
    public struct Rate: Sendable, Equatable, Codable {
        public var vcpuHour: Double
        public var gbHour: Double
        /// Ephemeral storage above the included 20 GiB, per GB-hour.
        public var storageGBHour: Double

        public init(vcpuHour: Double, gbHour: Double, storageGBHour: Double = 0.000111) {
            self.vcpuHour = vcpuHour
            self.gbHour = gbHour
            self.storageGBHour = storageGBHour
        }
    }

    /// The day the table was written, and where its figures come from.
    public static let tableDate = "2026-12-01"
    public static let tableSource = """
        AWS Fargate pricing, aws.amazon.com/fargate/pricing: Linux/x86 $0.04048 per vCPU-hour and $0.004445 per GB-hour, \
        Linux/ARM $0.03238 and $0.00356, ephemeral storage $0.000111 per GB-hour over 20 GB (US East (N. Virginia); the \
        same in US East (Ohio), US West (Oregon) and Europe (Ireland)). Fargate Spot prices move with supply and demand \
        ("up to a 70% discount"); the table uses 30 % of on-demand, the lowest they go.
        """

    /// Rates by `region/architecture/capacity`, e.g. `us-east-1/x86_64/FARGATE`.
    public var rates: [String: Rate]

    public init(rates: [String: Rate]) {
        self.rates = rates
    }

    /// The table in the code (``tableDate``, ``tableSource``).
    public static let builtIn: FargatePricing = {
        let x86 = Rate(vcpuHour: 0.04048, gbHour: 0.004445)
        let arm = Rate(vcpuHour: 0.03238, gbHour: 0.00356)
        var rates: [String: Rate] = [:]
        for region in ["us-east-1", "us-east-2", "us-west-2", "eu-west-1"] {
            for (architecture, rate) in [("x86_64", x86), ("arm64", arm)] {
                rates["\(region)/\(architecture)/FARGATE"] = rate
                rates["\(region)/\(architecture)/FARGATE_SPOT"] = Rate(
                    vcpuHour: rate.vcpuHour * spotFraction, gbHour: rate.gbHour * spotFraction, storageGBHour: rate.storageGBHour)
            }
        }
        return FargatePricing(rates: rates)
    }()

    /// Fargate Spot as a fraction of on-demand in the built-in table.
    public static let spotFraction = 0.3

    /// The built-in table with an operator's rates laid over it: a JSON object from `region/architecture/capacity`
    /// to `{"vcpuHour":…,"gbHour":…,"storageGBHour":…}` (a region missing here, a negotiated price, today's Spot price).
    public static func withOverrides(json: Data, field: String) throws(ValidationError) -> FargatePricing {
        let given: [String: Rate]
        do {
            given = try JSONDecoder().decode([String: Rate].self, from: json)
        } catch {
            throw ValidationError(
                code: "invalid_prices", field: field, problem: "not a JSON object of rates: \(error)",
                fix: #"Write e.g. {"eu-central-1/x86_64/FARGATE": {"vcpuHour": 0.04656, "gbHour": 0.00511, "storageGBHour": 0.000122}}."#)
        }
        for (key, rate) in given {
            let parts = key.split(separator: "/")
            guard parts.count == 3, ["x86_64", "arm64"].contains(parts[1]), ["FARGATE", "FARGATE_SPOT"].contains(parts[2]) else {
                throw ValidationError(
                    code: "invalid_prices", field: "\(field).\(key.prefix(64))", problem: "the key is not region/architecture/capacity",
                    fix: "Use e.g. eu-central-1/x86_64/FARGATE or eu-central-1/arm64/FARGATE_SPOT.")
            }
            for value in [rate.vcpuHour, rate.gbHour, rate.storageGBHour] where !(value.isFinite && value >= 0 && value < 1_000) {
                throw ValidationError(
                    code: "invalid_prices", field: "\(field).\(key)", problem: "a rate of \(value) USD per hour is not a price",
                    fix: "Give USD per hour from 0 to 1000, as the Fargate pricing page lists them.")
            }
        }
        var pricing = builtIn
        pricing.rates.merge(given) { _, new in new }
        return pricing
    }
}

/// A task's estimated cost.
public struct ECSCostEstimate: Sendable, Equatable {
    public var usd: Double
    public var billedSeconds: Int
    /// How it was reached, for the run page: size, rate, time and the table's date.
    public var basis: String

    /// A task as ECS reports it, in the terms the estimate needs.
    public struct BilledTask: Sendable, Equatable {
        public var region: String
        /// `FARGATE`, `FARGATE_SPOT`, `EC2` or an Auto Scaling group provider's name.
        public var capacity: String
        public var architecture: String
        /// Cpu units (1024 = 1 vCPU) and memory MiB.
        public var cpuUnits: Int?
        public var memoryMiB: Int?
        public var ephemeralGiB: Int?
        /// Epoch seconds: the pull start (else the start, else the creation) and the stop (else the execution stop).
        public var billedFrom: Double?
        public var billedUntil: Double?

        public init(
            region: String, capacity: String, architecture: String, cpuUnits: Int?, memoryMiB: Int?, ephemeralGiB: Int?,
            billedFrom: Double?, billedUntil: Double?
        ) {
            self.region = region
            self.capacity = capacity
            self.architecture = architecture
            self.cpuUnits = cpuUnits
            self.memoryMiB = memoryMiB
            self.ephemeralGiB = ephemeralGiB
            self.billedFrom = billedFrom
            self.billedUntil = billedUntil
        }
    }

    /// Why there is no estimate.
    public enum NoEstimate: Error, Equatable, CustomStringConvertible {
        case notFargate(String)
        case noPrice(String)
        case unknownSize
        case neverPulled

        public var description: String {
            switch self {
            case .notFargate(let capacity): "no estimate: \(capacity) capacity is billed by the instance, not the task"
            case .noPrice(let key): "no estimate: no Fargate price for \(key) in the table (add it with the agent's --fargate-prices)"
            case .unknownSize: "no estimate: ECS did not report the task's cpu and memory"
            case .neverPulled: "no cost: the task never began to pull its image"
            }
        }
    }

    /// The estimate for `task` at `pricing`'s rates.
    public static func estimate(_ task: BilledTask, pricing: FargatePricing = .builtIn) -> Result<ECSCostEstimate, NoEstimate> {
        guard task.capacity == "FARGATE" || task.capacity == "FARGATE_SPOT" else { return .failure(.notFargate(task.capacity)) }
        let key = "\(task.region)/\(task.architecture)/\(task.capacity)"
        guard let rate = pricing.rates[key] else { return .failure(.noPrice(key)) }
        guard let cpuUnits = task.cpuUnits, let memoryMiB = task.memoryMiB, cpuUnits > 0, memoryMiB > 0,
              cpuUnits <= 1_024 * 192, memoryMiB <= 1_024 * 1_024
        else { return .failure(.unknownSize) }
        guard let from = task.billedFrom, let until = task.billedUntil, from.isFinite, until.isFinite, until >= from else {
            return .failure(.neverPulled)
        }
        // Rounded up to the second, one minute at least; at most a year (a clock gone wrong is no bill).
        let seconds = max(60, min(366 * 86_400, Int(saturating: (until - from).rounded(.up))))
        let vcpu = Double(cpuUnits) / 1_024, gb = Double(memoryMiB) / 1_024
        // ECS takes 21-200 GiB; anything else (a damaged answer) is read as the 20 GiB every task has.
        let storageGiB = task.ephemeralGiB.flatMap { (21...200).contains($0) ? $0 : nil } ?? 20
        let extraStorage = Double(storageGiB - 20)
        let hours = Double(seconds) / 3_600
        let usd = hours * (vcpu * rate.vcpuHour + gb * rate.gbHour + extraStorage * rate.storageGBHour)
        let storage = extraStorage > 0 ? " + \(Int(extraStorage)) GB storage × $\(rate.storageGBHour)/h" : ""
        let basis = "\(task.capacity) \(task.architecture) \(task.region): \(number(vcpu)) vCPU × $\(rate.vcpuHour)/h + \(number(gb)) GB × $\(rate.gbHour)/h\(storage)"
            + " × \(seconds) s billed (image pull to stop, rounded up, 1 min minimum); prices of \(FargatePricing.tableDate)"
        return .success(ECSCostEstimate(usd: usd, billedSeconds: seconds, basis: basis))
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%g", value)
    }
}
