"""Offline validation of the deployment artefacts: image, Kubernetes, ECS, IAM, CloudFormation."""
