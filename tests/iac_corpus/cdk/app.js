// A CDK app: a VPC with public and private subnets in two zones (one NAT gateway), and Lambda functions in it.
const cdk = require('aws-cdk-lib');
const ec2 = require('aws-cdk-lib/aws-ec2');
const lambda = require('aws-cdk-lib/aws-lambda');
const iam = require('aws-cdk-lib/aws-iam');

const app = new cdk.App({ outdir: 'cdk.out' });
const stack = new cdk.Stack(app, 'CdkCorpus');  // environment-agnostic: zones are Fn::GetAZs
const vpc = new ec2.Vpc(stack, 'AppVpc', {
  ipAddresses: ec2.IpAddresses.cidr('10.70.0.0/16'), maxAzs: 2, natGateways: 1, restrictDefaultSecurityGroup: false,
  subnetConfiguration: [
    { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
    { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
  ],
});
const code = lambda.Code.fromInline('def handler(event, context):\n    return None\n');
new lambda.Function(stack, 'Good', {
  functionName: 'cdk-good', runtime: lambda.Runtime.PYTHON_3_12, handler: 'index.handler', code, vpc,
  vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
});
new lambda.Function(stack, 'PublicSubnets', {
  functionName: 'cdk-public-subnets', runtime: lambda.Runtime.PYTHON_3_12, handler: 'index.handler', code, vpc,
  vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC }, allowPublicSubnet: true,
});
new lambda.Function(stack, 'OneZone', {
  functionName: 'cdk-one-zone', runtime: lambda.Runtime.PYTHON_3_12, handler: 'index.handler', code, vpc,
  vpcSubnets: { subnets: [vpc.privateSubnets[0]] },
});
const bare = new iam.Role(stack, 'BareRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
new lambda.Function(stack, 'NoEniPermissions', {
  functionName: 'cdk-no-eni-permissions', runtime: lambda.Runtime.PYTHON_3_12, handler: 'index.handler', code, vpc,
  vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }, role: bare,
});
app.synth();
