/**
 * Our own compact table of the Kubernetes protobuf messages the lab decodes: the kinds
 * kubectl's imperative commands send (`kubectl create namespace|configmap|secret|
 * serviceaccount|service|deployment|job|cronjob|role|rolebinding|clusterrole|
 * clusterrolebinding|ingress|poddisruptionbudget|quota`, `kubectl run`, `kubectl auth can-i`)
 * and the types nested in them. Field numbers follow the public k8s.io/api and
 * k8s.io/apimachinery generated.proto definitions; field names are the JSON names.
 *
 * One field per word: `name=id[:type][flags]`
 *   type  string (default), int32, int64, bool, bytes, a message name,
 *         `[T]` repeated T, `{T}` map<string, T>
 *   flags `?` the Go field is a pointer (or otherwise keeps a zero value in JSON), so a zero
 *         value on the wire is kept; without it a zero scalar is dropped, as Go's
 *         `omitempty` drops it from JSON.
 *         `~` the message is embedded in Go (e.g. LocalObjectReference in a key selector):
 *         its fields are merged into the parent JSON object.
 *
 * Messages in SPECIAL are converted to their JSON forms (RFC 3339 times, quantity strings,
 * int-or-string, embedded raw JSON) instead of to objects.
 */
import protobuf from 'protobufjs';

const TABLE: Record<string, string> = {
  // k8s.io/apimachinery: runtime, meta/v1, resource, intstr
  Unknown: 'typeMeta=1:TypeMeta raw=2:bytes contentEncoding=3 contentType=4',
  TypeMeta: 'apiVersion=1 kind=2',
  RawExtension: 'raw=1:bytes',
  Time: 'seconds=1:int64 nanos=2:int32',
  MicroTime: 'seconds=1:int64 nanos=2:int32',
  Duration: 'duration=1:int64',
  Quantity: 'string=1',
  IntOrString: 'type=1:int64 intVal=2:int32 strVal=3',
  FieldsV1: 'raw=1:bytes',
  ObjectMeta:
    'name=1 generateName=2 namespace=3 selfLink=4 uid=5 resourceVersion=6 generation=7:int64 creationTimestamp=8:Time ' +
    'deletionTimestamp=9:Time deletionGracePeriodSeconds=10:int64? labels=11:{string} annotations=12:{string} ' +
    'ownerReferences=13:[OwnerReference] finalizers=14:[string] managedFields=17:[ManagedFieldsEntry]',
  OwnerReference: 'kind=1 name=3 uid=4 apiVersion=5 controller=6:bool? blockOwnerDeletion=7:bool?',
  ManagedFieldsEntry: 'manager=1 operation=2 apiVersion=3 time=4:Time fieldsType=6 fieldsV1=7:FieldsV1 subresource=8',
  LabelSelector: 'matchLabels=1:{string} matchExpressions=2:[LabelSelectorRequirement]',
  LabelSelectorRequirement: 'key=1 operator=2 values=3:[string]',
  Condition: 'type=1 status=2 observedGeneration=3:int64 lastTransitionTime=4:Time reason=5 message=6',
  DeleteOptions: 'gracePeriodSeconds=1:int64? preconditions=2:Preconditions orphanDependents=3:bool? propagationPolicy=4? dryRun=5:[string]',
  Preconditions: 'uid=1? resourceVersion=2?',

  // k8s.io/api/core/v1
  Namespace: 'metadata=1:ObjectMeta spec=2:NamespaceSpec status=3:NamespaceStatus',
  NamespaceSpec: 'finalizers=1:[string]',
  NamespaceStatus: 'phase=1 conditions=2:[NamespaceCondition]',
  NamespaceCondition: 'type=1 status=2 lastTransitionTime=4:Time reason=5 message=6',
  ConfigMap: 'metadata=1:ObjectMeta data=2:{string} binaryData=3:{bytes} immutable=4:bool?',
  Secret: 'metadata=1:ObjectMeta data=2:{bytes} type=3 stringData=4:{string} immutable=5:bool?',
  ServiceAccount: 'metadata=1:ObjectMeta secrets=2:[ObjectReference] imagePullSecrets=3:[LocalObjectReference] automountServiceAccountToken=4:bool?',
  ObjectReference: 'kind=1 namespace=2 name=3 uid=4 apiVersion=5 resourceVersion=6 fieldPath=7',
  LocalObjectReference: 'name=1',
  TypedLocalObjectReference: 'apiGroup=1? kind=2 name=3',
  Service: 'metadata=1:ObjectMeta spec=2:ServiceSpec status=3:ServiceStatus',
  ServiceSpec:
    'ports=1:[ServicePort] selector=2:{string} clusterIP=3 type=4 externalIPs=5:[string] sessionAffinity=7 loadBalancerIP=8 ' +
    'loadBalancerSourceRanges=9:[string] externalName=10 externalTrafficPolicy=11 healthCheckNodePort=12:int32 ' +
    'publishNotReadyAddresses=13:bool sessionAffinityConfig=14:SessionAffinityConfig ipFamilyPolicy=17? clusterIPs=18:[string] ' +
    'ipFamilies=19:[string] allocateLoadBalancerNodePorts=20:bool? loadBalancerClass=21? internalTrafficPolicy=22? trafficDistribution=23?',
  ServicePort: 'name=1 protocol=2 port=3:int32 targetPort=4:IntOrString nodePort=5:int32 appProtocol=6?',
  SessionAffinityConfig: 'clientIP=1:ClientIPConfig',
  ClientIPConfig: 'timeoutSeconds=1:int32?',
  ServiceStatus: 'loadBalancer=1:LoadBalancerStatus conditions=2:[Condition]',
  LoadBalancerStatus: 'ingress=1:[LoadBalancerIngress]',
  LoadBalancerIngress: 'ip=1 hostname=2 ipMode=3? ports=4:[PortStatus]',
  PortStatus: 'port=1:int32 protocol=2 error=3?',
  ResourceQuota: 'metadata=1:ObjectMeta spec=2:ResourceQuotaSpec status=3:ResourceQuotaStatus',
  ResourceQuotaSpec: 'hard=1:{Quantity} scopes=2:[string] scopeSelector=3:ScopeSelector',
  ResourceQuotaStatus: 'hard=1:{Quantity} used=2:{Quantity}',
  ScopeSelector: 'matchExpressions=1:[ScopedResourceSelectorRequirement]',
  ScopedResourceSelectorRequirement: 'scopeName=1 operator=2 values=3:[string]',
  Pod: 'metadata=1:ObjectMeta spec=2:PodSpec status=3:PodStatus',
  PodStatus: 'phase=1 conditions=2:[PodCondition] message=3 reason=4 hostIP=5 podIP=6 startTime=7:Time qosClass=9',
  PodCondition: 'type=1 status=2 lastProbeTime=3:Time lastTransitionTime=4:Time reason=5 message=6 observedGeneration=7:int64',
  PodTemplateSpec: 'metadata=1:ObjectMeta spec=2:PodSpec',
  PodSpec:
    'volumes=1:[Volume] containers=2:[Container] restartPolicy=3 terminationGracePeriodSeconds=4:int64? activeDeadlineSeconds=5:int64? ' +
    'dnsPolicy=6 nodeSelector=7:{string} serviceAccountName=8 serviceAccount=9 nodeName=10 hostNetwork=11:bool hostPID=12:bool ' +
    'hostIPC=13:bool securityContext=14:PodSecurityContext imagePullSecrets=15:[LocalObjectReference] hostname=16 subdomain=17 ' +
    'affinity=18:Affinity schedulerName=19 initContainers=20:[Container] automountServiceAccountToken=21:bool? tolerations=22:[Toleration] ' +
    'hostAliases=23:[HostAlias] priorityClassName=24 priority=25:int32? dnsConfig=26:PodDNSConfig shareProcessNamespace=27:bool? ' +
    'readinessGates=28:[PodReadinessGate] runtimeClassName=29? enableServiceLinks=30:bool? preemptionPolicy=31? overhead=32:{Quantity} ' +
    'topologySpreadConstraints=33:[TopologySpreadConstraint] setHostnameAsFQDN=35:bool? os=36:PodOS hostUsers=37:bool? ' +
    'schedulingGates=38:[PodSchedulingGate] resources=40:ResourceRequirements hostnameOverride=41?',
  Container:
    'name=1 image=2 command=3:[string] args=4:[string] workingDir=5 ports=6:[ContainerPort] env=7:[EnvVar] resources=8:ResourceRequirements ' +
    'volumeMounts=9:[VolumeMount] livenessProbe=10:Probe readinessProbe=11:Probe lifecycle=12:Lifecycle terminationMessagePath=13 ' +
    'imagePullPolicy=14 securityContext=15:SecurityContext stdin=16:bool stdinOnce=17:bool tty=18:bool envFrom=19:[EnvFromSource] ' +
    'terminationMessagePolicy=20 volumeDevices=21:[VolumeDevice] startupProbe=22:Probe resizePolicy=23:[ContainerResizePolicy] restartPolicy=24?',
  ContainerPort: 'name=1 hostPort=2:int32 containerPort=3:int32 protocol=4 hostIP=5',
  ContainerResizePolicy: 'resourceName=1 restartPolicy=2',
  EnvVar: 'name=1 value=2 valueFrom=3:EnvVarSource',
  EnvVarSource: 'fieldRef=1:ObjectFieldSelector resourceFieldRef=2:ResourceFieldSelector configMapKeyRef=3:ConfigMapKeySelector secretKeyRef=4:SecretKeySelector',
  ObjectFieldSelector: 'apiVersion=1 fieldPath=2',
  ResourceFieldSelector: 'containerName=1 resource=2 divisor=3:Quantity',
  ConfigMapKeySelector: 'ref=1:LocalObjectReference~ key=2 optional=3:bool?',
  SecretKeySelector: 'ref=1:LocalObjectReference~ key=2 optional=3:bool?',
  EnvFromSource: 'prefix=1 configMapRef=2:ConfigMapEnvSource secretRef=3:SecretEnvSource',
  ConfigMapEnvSource: 'ref=1:LocalObjectReference~ optional=2:bool?',
  SecretEnvSource: 'ref=1:LocalObjectReference~ optional=2:bool?',
  ResourceRequirements: 'limits=1:{Quantity} requests=2:{Quantity} claims=3:[ResourceClaim]',
  ResourceClaim: 'name=1 request=2',
  VolumeMount: 'name=1 readOnly=2:bool mountPath=3 subPath=4 mountPropagation=5? subPathExpr=6 recursiveReadOnly=7?',
  VolumeDevice: 'name=1 devicePath=2',
  Probe:
    'handler=1:ProbeHandler~ initialDelaySeconds=2:int32 timeoutSeconds=3:int32 periodSeconds=4:int32 successThreshold=5:int32 ' +
    'failureThreshold=6:int32 terminationGracePeriodSeconds=7:int64?',
  ProbeHandler: 'exec=1:ExecAction httpGet=2:HTTPGetAction tcpSocket=3:TCPSocketAction grpc=4:GRPCAction',
  ExecAction: 'command=1:[string]',
  HTTPGetAction: 'path=1 port=2:IntOrString host=3 scheme=4 httpHeaders=5:[HTTPHeader]',
  HTTPHeader: 'name=1 value=2',
  TCPSocketAction: 'port=1:IntOrString host=2',
  GRPCAction: 'port=1:int32 service=2?',
  Lifecycle: 'postStart=1:LifecycleHandler preStop=2:LifecycleHandler stopSignal=3?',
  LifecycleHandler: 'exec=1:ExecAction httpGet=2:HTTPGetAction tcpSocket=3:TCPSocketAction sleep=4:SleepAction',
  SleepAction: 'seconds=1:int64',
  SecurityContext:
    'capabilities=1:Capabilities privileged=2:bool? seLinuxOptions=3:SELinuxOptions runAsUser=4:int64? runAsNonRoot=5:bool? ' +
    'readOnlyRootFilesystem=6:bool? allowPrivilegeEscalation=7:bool? runAsGroup=8:int64? procMount=9? ' +
    'windowsOptions=10:WindowsSecurityContextOptions seccompProfile=11:SeccompProfile appArmorProfile=12:AppArmorProfile',
  PodSecurityContext:
    'seLinuxOptions=1:SELinuxOptions runAsUser=2:int64? runAsNonRoot=3:bool? supplementalGroups=4:[int64] fsGroup=5:int64? ' +
    'runAsGroup=6:int64? sysctls=7:[Sysctl] windowsOptions=8:WindowsSecurityContextOptions fsGroupChangePolicy=9? ' +
    'seccompProfile=10:SeccompProfile appArmorProfile=11:AppArmorProfile supplementalGroupsPolicy=12? seLinuxChangePolicy=13?',
  Capabilities: 'add=1:[string] drop=2:[string]',
  SELinuxOptions: 'user=1 role=2 type=3 level=4',
  WindowsSecurityContextOptions: 'gmsaCredentialSpecName=1? gmsaCredentialSpec=2? runAsUserName=3? hostProcess=4:bool?',
  SeccompProfile: 'type=1 localhostProfile=2?',
  AppArmorProfile: 'type=1 localhostProfile=2?',
  Sysctl: 'name=1 value=2',
  Volume: 'name=1 source=2:VolumeSource~',
  VolumeSource:
    'hostPath=1:HostPathVolumeSource emptyDir=2:EmptyDirVolumeSource secret=6:SecretVolumeSource nfs=7:NFSVolumeSource ' +
    'persistentVolumeClaim=10:PersistentVolumeClaimVolumeSource downwardAPI=16:DownwardAPIVolumeSource configMap=19:ConfigMapVolumeSource ' +
    'projected=26:ProjectedVolumeSource csi=28:CSIVolumeSource image=30:ImageVolumeSource',
  HostPathVolumeSource: 'path=1 type=2?',
  EmptyDirVolumeSource: 'medium=1 sizeLimit=2:Quantity',
  SecretVolumeSource: 'secretName=1 items=2:[KeyToPath] defaultMode=3:int32? optional=4:bool?',
  NFSVolumeSource: 'server=1 path=2 readOnly=3:bool',
  PersistentVolumeClaimVolumeSource: 'claimName=1 readOnly=2:bool',
  DownwardAPIVolumeSource: 'items=1:[DownwardAPIVolumeFile] defaultMode=2:int32?',
  DownwardAPIVolumeFile: 'path=1 fieldRef=2:ObjectFieldSelector resourceFieldRef=3:ResourceFieldSelector mode=4:int32?',
  ConfigMapVolumeSource: 'ref=1:LocalObjectReference~ items=2:[KeyToPath] defaultMode=3:int32? optional=4:bool?',
  KeyToPath: 'key=1 path=2 mode=3:int32?',
  ProjectedVolumeSource: 'sources=1:[VolumeProjection] defaultMode=2:int32?',
  VolumeProjection:
    'secret=1:SecretProjection downwardAPI=2:DownwardAPIProjection configMap=3:ConfigMapProjection serviceAccountToken=4:ServiceAccountTokenProjection',
  SecretProjection: 'ref=1:LocalObjectReference~ items=2:[KeyToPath] optional=4:bool?',
  ConfigMapProjection: 'ref=1:LocalObjectReference~ items=2:[KeyToPath] optional=4:bool?',
  DownwardAPIProjection: 'items=1:[DownwardAPIVolumeFile]',
  ServiceAccountTokenProjection: 'audience=1 expirationSeconds=2:int64? path=3',
  CSIVolumeSource: 'driver=1 readOnly=2:bool? fsType=3? volumeAttributes=4:{string} nodePublishSecretRef=5:LocalObjectReference',
  ImageVolumeSource: 'reference=1 pullPolicy=2',
  Toleration: 'key=1 operator=2 value=3 effect=4 tolerationSeconds=5:int64?',
  HostAlias: 'ip=1 hostnames=2:[string]',
  PodDNSConfig: 'nameservers=1:[string] searches=2:[string] options=3:[PodDNSConfigOption]',
  PodDNSConfigOption: 'name=1 value=2?',
  PodReadinessGate: 'conditionType=1',
  PodSchedulingGate: 'name=1',
  PodOS: 'name=1',
  TopologySpreadConstraint:
    'maxSkew=1:int32 topologyKey=2 whenUnsatisfiable=3 labelSelector=4:LabelSelector minDomains=5:int32? nodeAffinityPolicy=6? ' +
    'nodeTaintsPolicy=7? matchLabelKeys=8:[string]',
  Affinity: 'nodeAffinity=1:NodeAffinity podAffinity=2:PodAffinity podAntiAffinity=3:PodAntiAffinity',
  NodeAffinity: 'requiredDuringSchedulingIgnoredDuringExecution=1:NodeSelector preferredDuringSchedulingIgnoredDuringExecution=2:[PreferredSchedulingTerm]',
  NodeSelector: 'nodeSelectorTerms=1:[NodeSelectorTerm]',
  NodeSelectorTerm: 'matchExpressions=1:[NodeSelectorRequirement] matchFields=2:[NodeSelectorRequirement]',
  NodeSelectorRequirement: 'key=1 operator=2 values=3:[string]',
  PreferredSchedulingTerm: 'weight=1:int32 preference=2:NodeSelectorTerm',
  PodAffinity: 'requiredDuringSchedulingIgnoredDuringExecution=1:[PodAffinityTerm] preferredDuringSchedulingIgnoredDuringExecution=2:[WeightedPodAffinityTerm]',
  PodAntiAffinity: 'requiredDuringSchedulingIgnoredDuringExecution=1:[PodAffinityTerm] preferredDuringSchedulingIgnoredDuringExecution=2:[WeightedPodAffinityTerm]',
  PodAffinityTerm:
    'labelSelector=1:LabelSelector namespaces=2:[string] topologyKey=3 namespaceSelector=4:LabelSelector matchLabelKeys=5:[string] mismatchLabelKeys=6:[string]',
  WeightedPodAffinityTerm: 'weight=1:int32 podAffinityTerm=2:PodAffinityTerm',

  // k8s.io/api/apps/v1, autoscaling/v1 (Scale)
  Deployment: 'metadata=1:ObjectMeta spec=2:DeploymentSpec status=3:DeploymentStatus',
  DeploymentSpec:
    'replicas=1:int32? selector=2:LabelSelector template=3:PodTemplateSpec strategy=4:DeploymentStrategy minReadySeconds=5:int32 ' +
    'revisionHistoryLimit=6:int32? paused=7:bool progressDeadlineSeconds=9:int32? podReplacementPolicy=10?',
  DeploymentStrategy: 'type=1 rollingUpdate=2:RollingUpdateDeployment',
  RollingUpdateDeployment: 'maxUnavailable=1:IntOrString? maxSurge=2:IntOrString?',
  DeploymentStatus:
    'observedGeneration=1:int64 replicas=2:int32 updatedReplicas=3:int32 availableReplicas=4:int32 unavailableReplicas=5:int32 ' +
    'conditions=6:[DeploymentCondition] readyReplicas=7:int32 collisionCount=8:int32? terminatingReplicas=9:int32?',
  DeploymentCondition: 'type=1 status=2 reason=4 message=5 lastUpdateTime=6:Time lastTransitionTime=7:Time',
  Scale: 'metadata=1:ObjectMeta spec=2:ScaleSpec status=3:ScaleStatus',
  ScaleSpec: 'replicas=1:int32?',
  ScaleStatus: 'replicas=1:int32 selector=2',

  // k8s.io/api/batch/v1
  Job: 'metadata=1:ObjectMeta spec=2:JobSpec status=3:JobStatus',
  JobSpec:
    'parallelism=1:int32? completions=2:int32? activeDeadlineSeconds=3:int64? selector=4:LabelSelector manualSelector=5:bool? ' +
    'template=6:PodTemplateSpec backoffLimit=7:int32? ttlSecondsAfterFinished=8:int32? completionMode=9? suspend=10:bool? ' +
    'podFailurePolicy=11:PodFailurePolicy backoffLimitPerIndex=12:int32? maxFailedIndexes=13:int32? podReplacementPolicy=14? ' +
    'managedBy=15? successPolicy=16:SuccessPolicy',
  PodFailurePolicy: 'rules=1:[PodFailurePolicyRule]',
  PodFailurePolicyRule: 'action=1 onExitCodes=2:PodFailurePolicyOnExitCodesRequirement onPodConditions=3:[PodFailurePolicyOnPodConditionsPattern]',
  PodFailurePolicyOnExitCodesRequirement: 'containerName=1? operator=2 values=3:[int32]',
  PodFailurePolicyOnPodConditionsPattern: 'type=1 status=2',
  SuccessPolicy: 'rules=1:[SuccessPolicyRule]',
  SuccessPolicyRule: 'succeededIndexes=1? succeededCount=2:int32?',
  JobStatus:
    'conditions=1:[JobCondition] startTime=2:Time completionTime=3:Time active=4:int32 succeeded=5:int32 failed=6:int32 ' +
    'completedIndexes=7 uncountedTerminatedPods=8:UncountedTerminatedPods ready=9:int32? failedIndexes=10? terminating=11:int32?',
  JobCondition: 'type=1 status=2 lastProbeTime=3:Time lastTransitionTime=4:Time reason=5 message=6',
  UncountedTerminatedPods: 'succeeded=1:[string] failed=2:[string]',
  CronJob: 'metadata=1:ObjectMeta spec=2:CronJobSpec status=3:CronJobStatus',
  CronJobSpec:
    'schedule=1 startingDeadlineSeconds=2:int64? concurrencyPolicy=3 suspend=4:bool? jobTemplate=5:JobTemplateSpec ' +
    'successfulJobsHistoryLimit=6:int32? failedJobsHistoryLimit=7:int32? timeZone=8?',
  JobTemplateSpec: 'metadata=1:ObjectMeta spec=2:JobSpec',
  CronJobStatus: 'active=1:[ObjectReference] lastScheduleTime=4:Time lastSuccessfulTime=5:Time',

  // k8s.io/api/rbac/v1
  Role: 'metadata=1:ObjectMeta rules=2:[PolicyRule]',
  ClusterRole: 'metadata=1:ObjectMeta rules=2:[PolicyRule] aggregationRule=3:AggregationRule',
  AggregationRule: 'clusterRoleSelectors=1:[LabelSelector]',
  PolicyRule: 'verbs=1:[string] apiGroups=2:[string] resources=3:[string] resourceNames=4:[string] nonResourceURLs=5:[string]',
  RoleBinding: 'metadata=1:ObjectMeta subjects=2:[Subject] roleRef=3:RoleRef',
  ClusterRoleBinding: 'metadata=1:ObjectMeta subjects=2:[Subject] roleRef=3:RoleRef',
  Subject: 'kind=1 apiGroup=2 name=3 namespace=4',
  RoleRef: 'apiGroup=1 kind=2 name=3',

  // k8s.io/api/networking/v1
  Ingress: 'metadata=1:ObjectMeta spec=2:IngressSpec status=3:IngressStatus',
  IngressSpec: 'defaultBackend=1:IngressBackend tls=2:[IngressTLS] rules=3:[IngressRule] ingressClassName=4?',
  IngressBackend: 'resource=3:TypedLocalObjectReference service=4:IngressServiceBackend',
  IngressServiceBackend: 'name=1 port=2:ServiceBackendPort',
  ServiceBackendPort: 'name=1 number=2:int32',
  IngressTLS: 'hosts=1:[string] secretName=2',
  IngressRule: 'host=1 value=2:IngressRuleValue~',
  IngressRuleValue: 'http=1:HTTPIngressRuleValue',
  HTTPIngressRuleValue: 'paths=1:[HTTPIngressPath]',
  HTTPIngressPath: 'path=1 backend=2:IngressBackend pathType=3?',
  IngressStatus: 'loadBalancer=1:IngressLoadBalancerStatus',
  IngressLoadBalancerStatus: 'ingress=1:[IngressLoadBalancerIngress]',
  IngressLoadBalancerIngress: 'ip=1 hostname=2 ports=4:[IngressPortStatus]',
  IngressPortStatus: 'port=1:int32 protocol=2 error=3?',

  // k8s.io/api/policy/v1
  PodDisruptionBudget: 'metadata=1:ObjectMeta spec=2:PodDisruptionBudgetSpec status=3:PodDisruptionBudgetStatus',
  PodDisruptionBudgetSpec: 'minAvailable=1:IntOrString? selector=2:LabelSelector maxUnavailable=3:IntOrString? unhealthyPodEvictionPolicy=4?',
  PodDisruptionBudgetStatus:
    'observedGeneration=1:int64 disruptedPods=2:{Time} disruptionsAllowed=3:int32 currentHealthy=4:int32 desiredHealthy=5:int32 ' +
    'expectedPods=6:int32 conditions=7:[Condition]',

  // k8s.io/api/authorization/v1
  SelfSubjectAccessReview: 'metadata=1:ObjectMeta spec=2:SelfSubjectAccessReviewSpec status=3:SubjectAccessReviewStatus',
  SelfSubjectAccessReviewSpec: 'resourceAttributes=1:ResourceAttributes nonResourceAttributes=2:NonResourceAttributes',
  ResourceAttributes:
    'namespace=1 verb=2 group=3 version=4 resource=5 subresource=6 name=7 fieldSelector=8:FieldSelectorAttributes labelSelector=9:LabelSelectorAttributes',
  FieldSelectorAttributes: 'rawSelector=1 requirements=2:[FieldSelectorRequirement]',
  FieldSelectorRequirement: 'key=1 operator=2 values=3:[string]',
  LabelSelectorAttributes: 'rawSelector=1 requirements=2:[LabelSelectorRequirement]',
  NonResourceAttributes: 'path=1 verb=2',
  SubjectAccessReviewStatus: 'allowed=1:bool reason=2 evaluationError=3 denied=4:bool',
};

/** The top-level kinds the lab decodes, by `apiVersion/kind` of the envelope's TypeMeta. */
export const KINDS: Record<string, string> = {
  'v1/Namespace': 'Namespace',
  'v1/ConfigMap': 'ConfigMap',
  'v1/Secret': 'Secret',
  'v1/ServiceAccount': 'ServiceAccount',
  'v1/Service': 'Service',
  'v1/Pod': 'Pod',
  'v1/ResourceQuota': 'ResourceQuota',
  'v1/DeleteOptions': 'DeleteOptions',
  'meta.k8s.io/v1/DeleteOptions': 'DeleteOptions',
  'apps/v1/Deployment': 'Deployment',
  'apps/v1/Scale': 'Scale',
  'autoscaling/v1/Scale': 'Scale',
  'batch/v1/Job': 'Job',
  'batch/v1/CronJob': 'CronJob',
  'rbac.authorization.k8s.io/v1/Role': 'Role',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'RoleBinding',
  'rbac.authorization.k8s.io/v1/ClusterRole': 'ClusterRole',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'ClusterRoleBinding',
  'networking.k8s.io/v1/Ingress': 'Ingress',
  'policy/v1/PodDisruptionBudget': 'PodDisruptionBudget',
  'authorization.k8s.io/v1/SelfSubjectAccessReview': 'SelfSubjectAccessReview',
};

export const SPECIAL = new Set(['Time', 'MicroTime', 'Duration', 'Quantity', 'IntOrString', 'RawExtension', 'FieldsV1']);

const SCALARS = new Set(['string', 'int32', 'int64', 'bool', 'bytes']);

export interface FieldSpec {
  /** JSON name (also the protobufjs field name). */
  name: string;
  id: number;
  /** Scalar type or message name (of the element, for repeated and map fields). */
  type: string;
  kind: 'single' | 'repeated' | 'map';
  /** Keep zero values (a Go pointer, or a value JSON always carries). */
  keepZero: boolean;
  /** Embedded Go struct: merge into the parent object. */
  inline: boolean;
  scalar: boolean;
}

export interface Schema {
  root: protobuf.Root;
  fields: Map<string, FieldSpec[]>;
  type(name: string): protobuf.Type;
}

export function parseFields(spec: string): FieldSpec[] {
  return spec.split(/\s+/).filter(Boolean).map((word) => {
    const match = /^(\w+)=(\d+)(?::(\[\w+\]|\{\w+\}|\w+))?([?~]*)$/.exec(word);
    if (!match) throw new Error(`protobuf table: cannot read field "${word}"`);
    const [, name, id, rawType = 'string', flags = ''] = match;
    const kind = rawType.startsWith('[') ? 'repeated' : rawType.startsWith('{') ? 'map' : 'single';
    const type = kind === 'single' ? rawType : rawType.slice(1, -1);
    return { name: name!, id: Number(id), type, kind, keepZero: flags.includes('?'), inline: flags.includes('~'), scalar: SCALARS.has(type) };
  });
}

let cached: Schema | undefined;

/** Builds (once) the protobufjs types from the table; proto2 semantics, as Kubernetes' files. */
export function schema(): Schema {
  if (cached) return cached;
  const fields = new Map<string, FieldSpec[]>();
  const nested: Record<string, protobuf.IType & { edition: string }> = {};
  for (const [message, spec] of Object.entries(TABLE)) {
    const list = parseFields(spec);
    fields.set(message, list);
    const jsonFields: Record<string, protobuf.IField & { keyType?: string }> = {};
    for (const field of list) {
      if (!field.scalar && !(field.type in TABLE)) throw new Error(`protobuf table: ${message}.${field.name} names unknown message ${field.type}`);
      jsonFields[field.name] = field.kind === 'map'
        ? { id: field.id, type: field.type, keyType: 'string' }
        : { id: field.id, type: field.type, ...(field.kind === 'repeated' ? { rule: 'repeated' } : {}) };
    }
    nested[message] = { edition: 'proto2', fields: jsonFields };
  }
  const root = protobuf.Root.fromJSON({ nested: { k8s: { nested } } } as protobuf.INamespace);
  root.resolveAll();
  cached = { root, fields, type: (name) => root.lookupType(`k8s.${name}`) };
  return cached;
}
