extension InfraTemplate {
    /// A new VPC across two zones (public subnets, an internet gateway, an S3 gateway endpoint), or nothing.
    var network: [(String, CFNValue)] {
        guard options.existingNetwork == nil else { return [] }
        var resources: [(String, CFNValue)] = [
            ("VPC", Self.resource("AWS::EC2::VPC", [
                ("CidrBlock", .string(Self.newVPCRange)), ("EnableDnsSupport", true), ("EnableDnsHostnames", true), ("Tags", Self.nameTag("vpc")),
            ])),
            ("InternetGateway", Self.resource("AWS::EC2::InternetGateway", [("Tags", Self.nameTag("igw"))])),
            ("InternetGatewayAttachment", Self.resource("AWS::EC2::VPCGatewayAttachment", [
                ("VpcId", .ref("VPC")), ("InternetGatewayId", .ref("InternetGateway")),
            ])),
            ("PublicRouteTable", Self.resource("AWS::EC2::RouteTable", [("VpcId", .ref("VPC")), ("Tags", Self.nameTag("public"))])),
            ("InternetRoute", Self.resource("AWS::EC2::Route", [
                ("RouteTableId", .ref("PublicRouteTable")), ("DestinationCidrBlock", "0.0.0.0/0"), ("GatewayId", .ref("InternetGateway")),
            ], dependsOn: ["InternetGatewayAttachment"])),
        ]
        for zone in 0..<2 {
            resources.append(("Subnet\(zone + 1)", Self.resource("AWS::EC2::Subnet", [
                ("VpcId", .ref("VPC")), ("CidrBlock", .string("10.0.\(zone * 16).0/20")),
                ("AvailabilityZone", .select(zone, .availabilityZones)), ("Tags", Self.nameTag("subnet-\(zone + 1)")),
            ])))
            resources.append(("Subnet\(zone + 1)Routes", Self.resource("AWS::EC2::SubnetRouteTableAssociation", [
                ("SubnetId", .ref("Subnet\(zone + 1)")), ("RouteTableId", .ref("PublicRouteTable")),
            ])))
        }
        resources.append(("S3Endpoint", Self.resource("AWS::EC2::VPCEndpoint", [
            ("VpcId", .ref("VPC")), ("ServiceName", .sub("com.amazonaws.${AWS::Region}.s3")), ("VpcEndpointType", "Gateway"),
            ("RouteTableIds", [.ref("PublicRouteTable")]),
        ])))
        return resources
    }

    /// The tasks' group (no inbound) and the mount targets' group (NFS from the tasks' group only).
    var securityGroups: [(String, CFNValue)] {
        [
            ("TaskSecurityGroup", Self.resource("AWS::EC2::SecurityGroup", [
                ("GroupDescription", "Fathom flow and agent tasks: nothing inbound"), ("VpcId", vpc),
                ("SecurityGroupEgress", [["IpProtocol": "-1", "CidrIp": "0.0.0.0/0", "Description": "ECR, S3, CloudWatch, the coordinator, EFS"]]),
                ("Tags", Self.nameTag("tasks")),
            ])),
            ("FileSystemSecurityGroup", Self.resource("AWS::EC2::SecurityGroup", [
                ("GroupDescription", "Fathom EFS mount targets: NFS from Fathom tasks only"), ("VpcId", vpc),
                ("SecurityGroupIngress", [[
                    "IpProtocol": "tcp", "FromPort": 2049, "ToPort": 2049, "SourceSecurityGroupId": .getAtt("TaskSecurityGroup", "GroupId"),
                    "Description": "NFS from Fathom tasks",
                ]]),
                ("Tags", Self.nameTag("efs")),
            ])),
        ]
    }

    /// Encrypted EFS with a lifecycle to Infrequent Access, TLS required, a mount target per subnet, and the
    /// access point flows mount: the image's user, rooted at `/fathom`, made on first use.
    var fileSystem: [(String, CFNValue)] {
        let uid = String(options.posixUID), gid = String(options.posixGID)
        var resources: [(String, CFNValue)] = [
            ("FileSystem", Self.resource("AWS::EFS::FileSystem", [
                ("Encrypted", true), ("PerformanceMode", "generalPurpose"), ("ThroughputMode", "elastic"),
                ("LifecyclePolicies", [
                    ["TransitionToIA": .string("AFTER_\(options.infrequentAccessDays)_DAY\(options.infrequentAccessDays == 1 ? "" : "S")")],
                    ["TransitionToPrimaryStorageClass": "AFTER_1_ACCESS"],
                ]),
                ("FileSystemPolicy", [
                    "Version": "2012-10-17",
                    "Statement": [[
                        "Sid": "RefuseUnencryptedTransport", "Effect": "Deny", "Principal": ["AWS": "*"], "Action": "*", "Resource": "*",
                        "Condition": ["Bool": ["aws:SecureTransport": "false"]],
                    ]],
                ]),
                ("FileSystemTags", Self.nameTag(InfraTemplate.volumeName)),
            ], retain: "Retain")),
        ]
        for (index, subnet) in subnets.enumerated() {
            resources.append(("MountTarget\(index + 1)", Self.resource("AWS::EFS::MountTarget", [
                ("FileSystemId", .ref("FileSystem")), ("SubnetId", subnet), ("SecurityGroups", [.getAtt("FileSystemSecurityGroup", "GroupId")]),
            ])))
        }
        resources.append(("AccessPoint", Self.resource("AWS::EFS::AccessPoint", [
            ("FileSystemId", .ref("FileSystem")),
            ("PosixUser", ["Uid": .string(uid), "Gid": .string(gid)]),
            ("RootDirectory", [
                "Path": .string(Self.volumeRoot),
                "CreationInfo": ["OwnerUid": .string(uid), "OwnerGid": .string(gid), "Permissions": "0750"],
            ]),
            ("AccessPointTags", Self.nameTag(InfraTemplate.volumeName)),
        ])))
        return resources
    }

    /// Versioned, private, encrypted; old versions and unfinished uploads expire; TLS required.
    var bundleBucket: [(String, CFNValue)] {
        [
            ("BundleBucket", Self.resource("AWS::S3::Bucket", [
                ("VersioningConfiguration", ["Status": "Enabled"]),
                ("PublicAccessBlockConfiguration", [
                    "BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
                ]),
                ("BucketEncryption", ["ServerSideEncryptionConfiguration": [["ServerSideEncryptionByDefault": ["SSEAlgorithm": "AES256"]]]]),
                ("OwnershipControls", ["Rules": [["ObjectOwnership": "BucketOwnerEnforced"]]]),
                ("LifecycleConfiguration", ["Rules": [[
                    "Id": "ExpireReplacedBundles", "Status": "Enabled",
                    "NoncurrentVersionExpiration": ["NoncurrentDays": .int(options.oldVersionDays)],
                    "AbortIncompleteMultipartUpload": ["DaysAfterInitiation": 7],
                ]]]),
            ], retain: "Retain")),
            ("BundleBucketPolicy", Self.resource("AWS::S3::BucketPolicy", [
                ("Bucket", .ref("BundleBucket")),
                ("PolicyDocument", [
                    "Version": "2012-10-17",
                    "Statement": [[
                        "Sid": "RefuseUnencryptedTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                        "Resource": [.getAtt("BundleBucket", "Arn"), .sub("${BundleBucket.Arn}/*")],
                        "Condition": ["Bool": ["aws:SecureTransport": "false"]],
                    ]],
                ]),
            ])),
        ]
    }

    /// The log group (with retention) and the generated API token (unless one is given).
    var logsAndToken: [(String, CFNValue)] {
        let logGroup: (String, CFNValue) = ("LogGroup", Self.resource("AWS::Logs::LogGroup", [
            ("LogGroupName", .string("/fathom/\(options.prefix)")), ("RetentionInDays", .int(options.logRetentionDays)),
        ]))
        guard options.tokenSecretARN == nil else { return [logGroup] }
        return [
            logGroup,
            ("TokenSecret", Self.resource("AWS::SecretsManager::Secret", [
                ("Name", .sub("${AWS::StackName}-token")),
                ("Description", "The Fathom API token: the coordinator requires it, the agent and flows send it."),
                ("GenerateSecretString", ["PasswordLength": 48, "ExcludePunctuation": true]),
            ])),
        ]
    }
}
