extension InfraTemplate {
    /// The four roles, trusted by ECS tasks of this account only, each with its policy from ``FathomPolicies``.
    var roles: [(String, CFNValue)] {
        FathomPolicies.Role.allCases.filter { $0 != .coordinator || options.coordinator }.map { role in
            var policy = FathomPolicies.policy(role, databaseSecret: options.coordinator)
            if let secret = options.tokenSecretARN { policy = policy.replacing("${TokenSecret}", with: secret) }
            return (role.rawValue, Self.resource("AWS::IAM::Role", [
                ("Description", .string("Fathom: \(role.summary)")),
                ("AssumeRolePolicyDocument", [
                    "Version": "2012-10-17",
                    "Statement": [[
                        "Effect": "Allow", "Principal": ["Service": "ecs-tasks.amazonaws.com"], "Action": "sts:AssumeRole",
                        "Condition": ["StringEquals": ["aws:SourceAccount": .ref("AWS::AccountId")]],
                    ]],
                ]),
                ("Policies", [["PolicyName": .string(policy.name), "PolicyDocument": policy.document]]),
            ]))
        }
    }

    /// The cluster, with Fargate and Fargate Spot.
    var cluster: [(String, CFNValue)] {
        [("Cluster", Self.resource("AWS::ECS::Cluster", [
            ("ClusterName", .string(options.prefix)),
            ("CapacityProviders", ["FARGATE", "FARGATE_SPOT"]),
            ("DefaultCapacityProviderStrategy", [["CapacityProvider": "FARGATE", "Weight": 1]]),
        ]))]
    }

    /// The agent: one Fargate task (never two with its name: at most 100 % during a deployment).
    var agent: [(String, CFNValue)] {
        let name = "\(options.prefix)-agent"
        return [
            ("AgentTaskDefinition", taskDefinition(
                family: name, cpu: "256", memory: "512", role: .agent,
                container: [
                    "Name": "agent", "Image": .ref("Image"), "Essential": true,
                    "Command": ["agent", "--launcher", "ecs", "--name", .string(name), "--runner-api-url", runnerURL],
                    "Environment": [["Name": "FATHOM_API_URL", "Value": runnerURL], ["Name": "AWS_REGION", "Value": .ref("AWS::Region")]],
                    "Secrets": [["Name": "FATHOM_TOKEN", "ValueFrom": tokenSecret]],
                    "LogConfiguration": logConfiguration("agent"),
                ])),
            ("AgentService", service(
                name: name, taskDefinition: "AgentTaskDefinition", securityGroup: "TaskSecurityGroup",
                extra: [("DeploymentConfiguration", ["MaximumPercent": 100, "MinimumHealthyPercent": 0])])),
        ]
    }

    /// A Fargate task definition of one container.
    func taskDefinition(family: String, cpu: String, memory: String, role: FathomPolicies.Role, container: CFNValue) -> CFNValue {
        Self.resource("AWS::ECS::TaskDefinition", [
            ("Family", .string(family)), ("Cpu", .string(cpu)), ("Memory", .string(memory)), ("NetworkMode", "awsvpc"),
            ("RequiresCompatibilities", ["FARGATE"]),
            ("RuntimePlatform", ["OperatingSystemFamily": "LINUX", "CpuArchitecture": "X86_64"]),
            ("ExecutionRoleArn", .getAtt(FathomPolicies.Role.taskExecution.rawValue, "Arn")),
            ("TaskRoleArn", .getAtt(role.rawValue, "Arn")),
            ("ContainerDefinitions", [container]),
        ])
    }

    /// A Fargate service of one task on platform 1.4.0 in the stack's subnets.
    func service(
        name: String, taskDefinition: String, securityGroup: String, extra: [(String, CFNValue)] = [], dependsOn: [String] = []
    ) -> CFNValue {
        Self.resource("AWS::ECS::Service", [
            ("Cluster", .ref("Cluster")), ("ServiceName", .string(name)), ("TaskDefinition", .ref(taskDefinition)), ("DesiredCount", 1),
            ("LaunchType", "FARGATE"), ("PlatformVersion", "1.4.0"),
            ("NetworkConfiguration", ["AwsvpcConfiguration": [
                "AssignPublicIp": options.publicIP ? "ENABLED" : "DISABLED", "Subnets": .list(subnets),
                "SecurityGroups": [.getAtt(securityGroup, "GroupId")],
            ]]),
        ] + extra, dependsOn: dependsOn)
    }

    func logConfiguration(_ streamPrefix: String) -> CFNValue {
        ["LogDriver": "awslogs", "Options": [
            "awslogs-group": .ref("LogGroup"), "awslogs-region": .ref("AWS::Region"), "awslogs-stream-prefix": .string(streamPrefix),
        ]]
    }

    /// The coordinator: PostgreSQL on RDS (its password a secret RDS manages), the service behind a load balancer,
    /// and `coordinator.<prefix>.internal` in Cloud Map for the agent and the flows.
    var coordinator: [(String, CFNValue)] {
        let port = CFNValue.int(Self.coordinatorPort)
        let https = options.certificateARN != nil
        var listener: [(String, CFNValue)] = [
            ("LoadBalancerArn", .ref("LoadBalancer")), ("Port", https ? 443 : 80), ("Protocol", https ? "HTTPS" : "HTTP"),
            ("DefaultActions", [["Type": "forward", "TargetGroupArn": .ref("CoordinatorTargetGroup")]]),
        ]
        if let certificate = options.certificateARN {
            listener += [("Certificates", [["CertificateArn": .string(certificate)]]), ("SslPolicy", "ELBSecurityPolicy-TLS13-1-2-2021-06")]
        }
        return [
            ("LoadBalancerSecurityGroup", Self.resource("AWS::EC2::SecurityGroup", [
                ("GroupDescription", "Fathom coordinator load balancer: the allowed ranges only"), ("VpcId", vpc),
                ("SecurityGroupIngress", .list(options.allowedCIDRs.map {
                    ["IpProtocol": "tcp", "FromPort": https ? 443 : 80, "ToPort": https ? 443 : 80, "CidrIp": .string($0), "Description": "Fathom users"]
                })),
                ("Tags", Self.nameTag("load-balancer")),
            ])),
            ("CoordinatorSecurityGroup", Self.resource("AWS::EC2::SecurityGroup", [
                ("GroupDescription", "Fathom coordinator: from its load balancer, the agent and flows"), ("VpcId", vpc),
                ("SecurityGroupIngress", [
                    ["IpProtocol": "tcp", "FromPort": port, "ToPort": port, "SourceSecurityGroupId": .getAtt("LoadBalancerSecurityGroup", "GroupId"), "Description": "the load balancer"],
                    ["IpProtocol": "tcp", "FromPort": port, "ToPort": port, "SourceSecurityGroupId": .getAtt("TaskSecurityGroup", "GroupId"), "Description": "the agent and flows"],
                ]),
                ("Tags", Self.nameTag("coordinator")),
            ])),
            ("DatabaseSecurityGroup", Self.resource("AWS::EC2::SecurityGroup", [
                ("GroupDescription", "Fathom database: PostgreSQL from the coordinator only"), ("VpcId", vpc),
                ("SecurityGroupIngress", [[
                    "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "SourceSecurityGroupId": .getAtt("CoordinatorSecurityGroup", "GroupId"),
                    "Description": "the coordinator",
                ]]),
                ("Tags", Self.nameTag("database")),
            ])),
            ("DatabaseSubnets", Self.resource("AWS::RDS::DBSubnetGroup", [
                ("DBSubnetGroupDescription", "Fathom database subnets"), ("SubnetIds", .list(subnets)),
            ])),
            ("Database", Self.resource("AWS::RDS::DBInstance", [
                ("Engine", "postgres"), ("DBInstanceClass", .ref("DatabaseInstanceClass")), ("AllocatedStorage", "20"), ("StorageType", "gp3"),
                ("StorageEncrypted", true), ("DBName", "fathom"), ("MasterUsername", "fathom"), ("ManageMasterUserPassword", true),
                ("DBSubnetGroupName", .ref("DatabaseSubnets")), ("VPCSecurityGroups", [.getAtt("DatabaseSecurityGroup", "GroupId")]),
                ("PubliclyAccessible", false), ("BackupRetentionPeriod", 7), ("DeletionProtection", true), ("CopyTagsToSnapshot", true),
            ], retain: "Snapshot")),
            ("DiscoveryNamespace", Self.resource("AWS::ServiceDiscovery::PrivateDnsNamespace", [
                ("Name", .string("\(options.prefix).internal")), ("Vpc", vpc), ("Description", "Fathom: the coordinator's name for tasks"),
            ])),
            ("CoordinatorDiscovery", Self.resource("AWS::ServiceDiscovery::Service", [
                ("Name", "coordinator"), ("NamespaceId", .ref("DiscoveryNamespace")),
                ("DnsConfig", ["DnsRecords": [["Type": "A", "TTL": 10]], "RoutingPolicy": "MULTIVALUE"]),
                ("HealthCheckCustomConfig", ["FailureThreshold": 1]),
            ])),
            ("LoadBalancer", Self.resource("AWS::ElasticLoadBalancingV2::LoadBalancer", [
                ("Type", "application"), ("Scheme", options.internetFacing ? "internet-facing" : "internal"), ("Subnets", .list(subnets)),
                ("SecurityGroups", [.getAtt("LoadBalancerSecurityGroup", "GroupId")]),
            ])),
            ("CoordinatorTargetGroup", Self.resource("AWS::ElasticLoadBalancingV2::TargetGroup", [
                ("TargetType", "ip"), ("Protocol", "HTTP"), ("Port", port), ("VpcId", vpc), ("HealthCheckPath", "/healthz"),
                ("HealthCheckIntervalSeconds", 15), ("Matcher", ["HttpCode": "200"]),
            ])),
            ("CoordinatorListener", Self.resource("AWS::ElasticLoadBalancingV2::Listener", listener)),
            ("CoordinatorTaskDefinition", taskDefinition(
                family: "\(options.prefix)-coordinator", cpu: "512", memory: "1024", role: .coordinator,
                container: [
                    "Name": "coordinator", "Image": .ref("Image"), "Essential": true,
                    "Command": [
                        "server", "--host", "0.0.0.0", "--port", .string(String(Self.coordinatorPort)), "--storage", .sub("s3://${BundleBucket}"),
                        "--public-url", coordinatorURL,
                    ],
                    "PortMappings": [["ContainerPort": port, "Protocol": "tcp"]],
                    "Environment": [
                        ["Name": "FATHOM_DATABASE_URL", "Value": .sub("postgres://fathom@${Database.Endpoint.Address}:${Database.Endpoint.Port}/fathom?sslmode=require")],
                        ["Name": "AWS_REGION", "Value": .ref("AWS::Region")],
                    ],
                    "Secrets": [
                        ["Name": "FATHOM_TOKEN", "ValueFrom": tokenSecret],
                        ["Name": "FATHOM_DATABASE_PASSWORD", "ValueFrom": .sub("${Database.MasterUserSecret.SecretArn}:password::")],
                    ],
                    "LogConfiguration": logConfiguration("coordinator"),
                ])),
            ("CoordinatorService", service(
                name: "\(options.prefix)-coordinator", taskDefinition: "CoordinatorTaskDefinition", securityGroup: "CoordinatorSecurityGroup",
                extra: [
                    ("LoadBalancers", [["ContainerName": "coordinator", "ContainerPort": port, "TargetGroupArn": .ref("CoordinatorTargetGroup")]]),
                    ("ServiceRegistries", [["RegistryArn": .getAtt("CoordinatorDiscovery", "Arn")]]),
                    ("HealthCheckGracePeriodSeconds", 60),
                ],
                dependsOn: ["CoordinatorListener"])),
        ]
    }
}
