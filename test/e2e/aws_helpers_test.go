package e2e

import (
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func deleteInput(name string, force bool) *secretsmanager.DeleteSecretInput {
	return &secretsmanager.DeleteSecretInput{SecretId: &name, ForceDeleteWithoutRecovery: &force}
}
