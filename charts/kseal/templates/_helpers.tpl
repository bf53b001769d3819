{{/* Name of the controller's objects. */}}
{{- define "kseal.fullname" -}}
{{- default "kseal-controller" .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the controller's pods. */}}
{{- define "kseal.selectorLabels" -}}
app.kubernetes.io/name: kseal
app.kubernetes.io/component: controller
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "kseal.labels" -}}
{{ include "kseal.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "kseal.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kseal.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kseal.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* The controller's command-line flags, one per line, quoted. */}}
{{- define "kseal.args" -}}
{{- $c := .Values.controller -}}
- "--namespace=$(POD_NAMESPACE)"
- "--leader-elect={{ $c.leaderElect }}"
- {{ printf "--leader-elect-lease-duration=%s" $c.leaderElection.leaseDuration | quote }}
- {{ printf "--leader-elect-renew-deadline=%s" $c.leaderElection.renewDeadline | quote }}
- {{ printf "--leader-elect-retry-period=%s" $c.leaderElection.retryPeriod | quote }}
- "--shards={{ int64 $c.shards.count }}"
- {{ printf "--shard-lease-prefix=%s" $c.shards.leasePrefix | quote }}
- {{ printf "--shard-lease-duration=%s" $c.shards.leaseDuration | quote }}
- {{ printf "--shard-renew-deadline=%s" $c.shards.renewDeadline | quote }}
- {{ printf "--shard-retry-period=%s" $c.shards.retryPeriod | quote }}
- {{ printf "--key-renew-period=%s" $c.keyRenewPeriod | quote }}
{{- with $c.keyCutoffTime }}
- {{ printf "--key-cutoff-time=%s" . | quote }}
{{- end }}
- "--workers={{ int64 $c.workers }}"
- "--external-secret-workers={{ int64 $c.externalSecretWorkers }}"
- {{ printf "--aws-batch-window=%s" $c.awsBatchWindow | quote }}
- {{ printf "--parameter-store-batch-window=%s" $c.parameterStoreBatchWindow | quote }}
- "--kube-api-qps={{ $c.kubeAPIQPS }}"
- "--kube-api-burst={{ int64 $c.kubeAPIBurst }}"
- "--listen-addr=:{{ int64 .Values.ports.http }}"
{{- if .Values.metrics.enabled }}
- "--metrics-bind-address=:{{ int64 .Values.ports.metrics }}"
{{- else }}
- "--metrics-bind-address=0"
{{- end }}
- "--health-probe-bind-address=:{{ int64 .Values.ports.health }}"
{{- with $c.watchNamespaces }}
- {{ printf "--watch-namespaces=%s" (join "," .) | quote }}
{{- end }}
{{- with $c.labelSelector }}
- {{ printf "--label-selector=%s" . | quote }}
{{- end }}
{{- with $c.adopt.apis }}
- {{ printf "--adopt-apis=%s" (join "," .) | quote }}
{{- end }}
- "--adopt-ignore-running={{ $c.adopt.ignoreRunning }}"
- {{ printf "--adopt-eso-namespace=%s" $c.adopt.esoNamespace | quote }}
{{- with $c.bitnamiKeyNamespace }}
- {{ printf "--bitnami-key-namespace=%s" . | quote }}
{{- end }}
{{- with $c.allowedStoreServers }}
- {{ printf "--allowed-store-servers=%s" (join "," .) | quote }}
{{- end }}
- "--namespaced-stores-default-credentials={{ $c.namespacedStoresDefaultCredentials }}"
- "--vault-allow-http={{ $c.vaultAllowHTTP }}"
- {{ printf "--vault-token-audience=%s" $c.vaultTokenAudience | quote }}
{{- with $c.apiserverAudiences }}
- {{ printf "--apiserver-audiences=%s" (join "," .) | quote }}
{{- end }}
- "--allow-apiserver-audience-tokens={{ $c.allowAPIServerAudienceTokens }}"
- "--rollout-restarts={{ $c.rolloutRestarts.enabled }}"
- {{ printf "--rollout-restart-debounce=%s" $c.rolloutRestarts.debounce | quote }}
- "--rollout-restart-rate={{ $c.rolloutRestarts.rate }}"
- "--rollout-restart-burst={{ int64 $c.rolloutRestarts.burst }}"
- "--api-rate={{ $c.api.rate }}"
- "--api-burst={{ int64 $c.api.burst }}"
- "--api-global-rate={{ $c.api.globalRate }}"
- "--api-global-burst={{ int64 $c.api.globalBurst }}"
- {{ printf "--api-trusted-proxies=%s" $c.api.trustedProxies | quote }}
- "--api-max-body-bytes={{ int64 $c.api.maxBodyBytes }}"
- "--api-max-items={{ int64 $c.api.maxItems }}"
- "--api-max-rsa-operations={{ int64 $c.api.maxRSAOperations }}"
- "--api-max-in-flight={{ int64 $c.api.maxInFlight }}"
- "--api-max-decrypting={{ int64 $c.api.maxDecrypting }}"
- {{ printf "--zap-log-level=%v" $c.log.level | quote }}
- {{ printf "--zap-encoder=%s" $c.log.encoder | quote }}
{{- range $c.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}
