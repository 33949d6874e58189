{{/*
Full name of the release's objects. The chart is installed once per cluster; the default keeps the
names short when the release is called tenant-backup-operator (as the README suggests).
*/}}
{{- define "tbo.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tbo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels. app.kubernetes.io/name is fixed, not nameOverride-able: the NetworkPolicies the
operator writes into every tenant namespace admit the operator's pods by exactly this label.
*/}}
{{- define "tbo.selectorLabels" -}}
app.kubernetes.io/name: tenant-backup-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "tbo.labels" -}}
helm.sh/chart: {{ include "tbo.chart" . }}
{{ include "tbo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: tenant-backup
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "tbo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tbo.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tbo.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The gateways' image (--gateway-image): gatewayImage as given; else gateway.image, each part falling
back to the operator's; a digest pins it (repository@sha256:…). The operator checks the reference
at start-up too; values.schema.json refuses a malformed digest before anything is installed.
*/}}
{{- define "tbo.gatewayImage" -}}
{{- $g := .Values.gateway.image -}}
{{- if .Values.gatewayImage -}}
{{- .Values.gatewayImage -}}
{{- else if $g.digest -}}
{{- printf "%s@%s" (default .Values.image.repository $g.repository) $g.digest -}}
{{- else if or $g.repository $g.tag -}}
{{- printf "%s:%s" (default .Values.image.repository $g.repository) (default (default .Chart.AppVersion .Values.image.tag) $g.tag) -}}
{{- else -}}
{{- include "tbo.image" . -}}
{{- end -}}
{{- end -}}

{{/* The webhook Service; the cert-manager Certificate carries the same name (--webhook-service). */}}
{{- define "tbo.keyService" -}}
{{- printf "%s-keys" (include "tbo.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tbo.webhookService" -}}
{{- printf "%s-webhook" (include "tbo.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Secret of the webhook's serving certificate: fixed in the operator (src/webhook/options.ts). */}}
{{- define "tbo.webhookSecret" -}}tenant-backup-webhook-tls{{- end -}}

{{- define "tbo.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) -}}
{{- fail "leaderElection.enabled=false allows only replicas: 1 (two operators would reconcile at once)" -}}
{{- end -}}
{{- if not (has .Values.webhook.certSource (list "operator" "cert-manager")) -}}
{{- fail (printf "webhook.certSource must be operator or cert-manager, not %q" .Values.webhook.certSource) -}}
{{- end -}}
{{- end -}}
