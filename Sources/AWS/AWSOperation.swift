/// One AWS API operation Fathom's clients call: the service and the operation's name in the service model.
///
/// The typed client methods send these, and the IAM policies Fathom writes (`fathom infra template`, the docs) are
/// made from the operations each part of Fathom calls, so a policy names exactly what the code does.
public struct AWSOperation: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let service: AWSService
    /// The operation's name in botocore's service model (`RunTask`, `GetObject`).
    public let name: String

    public init(_ service: AWSService, _ name: String) {
        self.service = service
        self.name = name
    }

    /// `ecs:RunTask`.
    public var description: String { "\(service.iamPrefix):\(name)" }

    /// The IAM actions a caller needs for this operation. They are the operation's own name, except in S3, where
    /// (Service Authorization Reference, "Actions defined by Amazon S3") HeadObject is allowed by `s3:GetObject`,
    /// ListObjectsV2 by `s3:ListBucket`, and the multipart upload calls by `s3:PutObject`.
    public var iamAction: String {
        guard service == .s3 else { return description }
        switch name {
        case "HeadObject": return "s3:GetObject"
        case "ListObjectsV2": return "s3:ListBucket"
        case "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload": return "s3:PutObject"
        default: return description
        }
    }

    public static func < (lhs: AWSOperation, rhs: AWSOperation) -> Bool { lhs.description < rhs.description }
}

extension AWSService {
    /// The service's prefix in IAM action names.
    public var iamPrefix: String {
        switch self {
        case .efs: return "elasticfilesystem"
        default: return rawValue
        }
    }
}

extension AWSOperation {
    /// The ECS operations ``ECSClient`` sends.
    public enum ECS {
        public static let registerTaskDefinition = AWSOperation(.ecs, "RegisterTaskDefinition")
        public static let describeTaskDefinition = AWSOperation(.ecs, "DescribeTaskDefinition")
        public static let listTaskDefinitions = AWSOperation(.ecs, "ListTaskDefinitions")
        public static let deregisterTaskDefinition = AWSOperation(.ecs, "DeregisterTaskDefinition")
        public static let runTask = AWSOperation(.ecs, "RunTask")
        public static let describeTasks = AWSOperation(.ecs, "DescribeTasks")
        public static let stopTask = AWSOperation(.ecs, "StopTask")
        public static let listTasks = AWSOperation(.ecs, "ListTasks")
        public static let describeClusters = AWSOperation(.ecs, "DescribeClusters")
    }

    /// The CloudWatch Logs operations ``CloudWatchLogsClient`` sends.
    public enum Logs {
        public static let getLogEvents = AWSOperation(.logs, "GetLogEvents")
        public static let filterLogEvents = AWSOperation(.logs, "FilterLogEvents")
        public static let describeLogGroups = AWSOperation(.logs, "DescribeLogGroups")
    }

    /// The EFS operations ``EFSClient`` sends.
    public enum EFS {
        public static let describeFileSystems = AWSOperation(.efs, "DescribeFileSystems")
        public static let describeMountTargets = AWSOperation(.efs, "DescribeMountTargets")
        public static let describeMountTargetSecurityGroups = AWSOperation(.efs, "DescribeMountTargetSecurityGroups")
        public static let describeAccessPoints = AWSOperation(.efs, "DescribeAccessPoints")
        public static let describeFileSystemPolicy = AWSOperation(.efs, "DescribeFileSystemPolicy")
    }

    /// The EC2 operations ``EC2Client`` sends.
    public enum EC2 {
        public static let describeSubnets = AWSOperation(.ec2, "DescribeSubnets")
        public static let describeSecurityGroups = AWSOperation(.ec2, "DescribeSecurityGroups")
        public static let describeRouteTables = AWSOperation(.ec2, "DescribeRouteTables")
        public static let describeVpcEndpoints = AWSOperation(.ec2, "DescribeVpcEndpoints")
        public static let describeVpcAttribute = AWSOperation(.ec2, "DescribeVpcAttribute")
        public static let describeVpcs = AWSOperation(.ec2, "DescribeVpcs")
    }

    /// The S3 operations ``S3Client`` sends.
    public enum S3 {
        public static let createBucket = AWSOperation(.s3, "CreateBucket")
        public static let putObject = AWSOperation(.s3, "PutObject")
        public static let createMultipartUpload = AWSOperation(.s3, "CreateMultipartUpload")
        public static let uploadPart = AWSOperation(.s3, "UploadPart")
        public static let completeMultipartUpload = AWSOperation(.s3, "CompleteMultipartUpload")
        public static let abortMultipartUpload = AWSOperation(.s3, "AbortMultipartUpload")
        public static let getObject = AWSOperation(.s3, "GetObject")
        public static let headObject = AWSOperation(.s3, "HeadObject")
        public static let listObjectsV2 = AWSOperation(.s3, "ListObjectsV2")
        public static let deleteObject = AWSOperation(.s3, "DeleteObject")
    }

    /// The Secrets Manager operations ``SecretsManagerClient`` sends.
    public enum SecretsManager {
        public static let getSecretValue = AWSOperation(.secretsmanager, "GetSecretValue")
    }

    /// The CloudFormation operations ``CloudFormationClient`` sends.
    public enum CloudFormation {
        public static let describeStacks = AWSOperation(.cloudformation, "DescribeStacks")
    }
}
