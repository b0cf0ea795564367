import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  bindMountPath,
  composeServices,
  DEPLOY_DIR,
  filesUnder,
  readJson,
  readText,
  readYamlDocuments,
  variablesWithoutDefault,
} from './deploy-files';

describe('deploy/ files', () => {
  const yamlFiles = filesUnder(DEPLOY_DIR, ['.yaml', '.yml']);
  const jsonFiles = filesUnder(DEPLOY_DIR, ['.json']);

  it('has the compose, Kubernetes, collector, Prometheus and Grafana files', () => {
    const relative = [...yamlFiles, ...jsonFiles].map((f) => path.relative(DEPLOY_DIR, f));
    expect(relative).toEqual(
      expect.arrayContaining([
        'compose/compose.yaml',
        'compose/compose.nats-cluster.yaml',
        'k8s/kustomization.yaml',
        'otel-collector/config.yaml',
        'prometheus/prometheus.yml',
        'prometheus/alerts.yml',
        'grafana/dashboards/quarry.json',
        'grafana/provisioning/datasources/datasources.yaml',
        'grafana/provisioning/dashboards/dashboards.yaml',
      ]),
    );
  });

  it.each(yamlFiles.map((f) => [path.relative(DEPLOY_DIR, f), f]))('%s is valid YAML', (_name, file) => {
    expect(readYamlDocuments(file).length).toBeGreaterThan(0);
  });

  it.each(jsonFiles.map((f) => [path.relative(DEPLOY_DIR, f), f]))('%s is valid JSON', (_name, file) => {
    expect(readJson(file)).toBeInstanceOf(Object);
  });

  it('the YAML check rejects broken YAML and duplicate keys', () => {
    expect(parseAllDocuments('a: [1, 2').flatMap((d) => d.errors)).not.toHaveLength(0);
    expect(parseAllDocuments('a: 1\na: 2\n').flatMap((d) => d.errors)).not.toHaveLength(0);
  });

  it('every file compose mounts from the repository exists', () => {
    const services = composeServices('compose.yaml', 'compose.nats-cluster.yaml');
    const mounts = [...services.values()].flatMap((s) =>
      s.volumes.map((v) => ({ service: s.name, path: bindMountPath(v.source) })),
    );
    const binds = mounts.filter((m): m is { service: string; path: string } => m.path !== undefined);
    expect(binds.length).toBeGreaterThanOrEqual(6);
    expect(binds.filter((m) => !existsSync(m.path))).toEqual([]);
  });

  it('compose files need no variable the operator must set: every ${VAR} has a default', () => {
    for (const file of ['compose.yaml', 'compose.nats-cluster.yaml']) {
      expect(variablesWithoutDefault(readText(path.join(DEPLOY_DIR, 'compose', file)))).toEqual([]);
    }
    expect(variablesWithoutDefault('a: ${SET_ME}\nb: ${FINE:-x}\nc: $$ESCAPED')).toEqual(['SET_ME']);
  });
});
