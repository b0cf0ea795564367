import { Commands, LANES, topology, type CommandName } from '@quarry/contracts';
import { METRICS } from '@quarry/telemetry';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readAlertRules, readText, REPO_ROOT } from './deploy-files';
import { knownSeriesNames } from './promql';

/** docs/operations.md stays honest: it explains every metric and alert there is, and no other. */
const DOC = path.join(REPO_ROOT, 'docs', 'operations.md');
const doc = readText(DOC);

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

const headings = [...doc.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => m[1]!);
const anchors = new Set(headings.map(slug));
const backticked = [...doc.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);

describe('docs/operations.md', () => {
  it.each(Object.keys(METRICS).map((m) => [m]))('explains %s', (metric) => {
    expect(backticked).toContain(metric);
  });

  it('names no quarry_ metric or consumer that does not exist', async () => {
    const t = topology('quarry');
    const consumers = (Object.keys(Commands) as CommandName[]).flatMap((c) =>
      LANES.map((lane) => t.consumerName(c, lane)),
    );
    const series = await knownSeriesNames();
    // Prose names a histogram by its family (`…_seconds`), PromQL by its series (`…_seconds_bucket`).
    const families = [...series]
      .filter((s) => s.endsWith('_bucket'))
      .map((s) => s.slice(0, -'_bucket'.length));
    const known = new Set([...series, ...families, ...consumers]);
    const inCode = [...doc.matchAll(/`[^`]*`|```[\s\S]*?```/g)].flatMap(
      (m) => m[0].match(/\bquarry_[a-z0-9_]+/g) ?? [],
    );
    expect(inCode.length).toBeGreaterThan(Object.keys(METRICS).length);
    expect([...new Set(inCode)].filter((name) => !known.has(name))).toEqual([]);
  });

  it('lists every consumer of every worker, both lanes', () => {
    const t = topology('quarry');
    for (const c of Object.keys(Commands) as CommandName[]) {
      for (const lane of LANES) expect(backticked).toContain(t.consumerName(c, lane));
    }
  });

  it('has a section for every alert rule, which the rule names as its runbook', () => {
    const rules = readAlertRules();
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(headings).toContain(rule.alert);
      expect(rule.annotations.runbook).toBe(`docs/operations.md#${slug(rule.alert)}`);
    }
    // and no section for an alert that no longer exists
    const alertSections = headings.filter((h) => /^Quarry[A-Z]\w+$/.test(h));
    expect(alertSections.sort()).toEqual(rules.map((r) => r.alert).sort());
  });

  it('every link inside the page and to a repository file resolves', () => {
    const links = [...doc.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^https?:/.test(l));
    expect(links.length).toBeGreaterThan(5);
    for (const link of links) {
      const [file, anchor] = link.split('#');
      if (file)
        expect({ link, exists: existsSync(path.resolve(path.dirname(DOC), file)) }).toEqual({
          link,
          exists: true,
        });
      else expect({ link, exists: anchors.has(anchor!) }).toEqual({ link, exists: true });
    }
  });

  it('the anchor rule matches GitHub', () => {
    expect(slug('Running locally with `npm start`')).toBe('running-locally-with-npm-start');
    expect(slug('QuarryAppDown')).toBe('quarryappdown');
  });
});
