/**
 * The catalog: every source and view the platform runs. Compiling it checks every definition and reports
 * all problems at once, like the config.
 */
import { InvalidArgumentError, PlatformError } from '../errors/errors.js';
import { resolveRecordLimits, type RecordLimits } from '../records/record-limits.js';
import { CompiledSource, type SourceDefinition } from './source.js';
import { CompiledView, type ViewDefinition } from './view.js';

export interface CatalogDefinition {
  sources: SourceDefinition[];
  views: ViewDefinition[];
  /** What every record must stay within (see `RecordLimits`); defaults where absent. */
  limits?: Partial<RecordLimits>;
}

export class CatalogError extends InvalidArgumentError {
  override readonly code = 'INVALID_CATALOG';
  constructor(readonly problems: string[]) {
    super(`Invalid catalog, ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
      problems,
    });
  }
}

export class Catalog {
  private constructor(
    readonly sources: ReadonlyMap<string, CompiledSource>,
    readonly views: ReadonlyMap<string, CompiledView>,
    readonly limits: RecordLimits,
  ) {}

  /** The definition this catalog was compiled from, for another thread or a recompiled catalog. */
  get definition(): CatalogDefinition {
    return {
      sources: [...this.sources.values()].map((source) => source.definition),
      views: [...this.views.values()].map((view) => view.definition),
      limits: this.limits,
    };
  }

  static compile(definition: CatalogDefinition): Catalog {
    const problems: string[] = [];
    const sources = new Map<string, CompiledSource>();
    const views = new Map<string, CompiledView>();
    let limits: RecordLimits = resolveRecordLimits();
    const attempt = (what: string, work: () => void) => {
      try {
        work();
      } catch (error) {
        if (!(error instanceof PlatformError)) throw error;
        problems.push(`${what}: ${error.message}`);
      }
    };
    attempt('limits', () => (limits = resolveRecordLimits(definition?.limits)));
    for (const source of definition?.sources ?? []) {
      attempt(`source ${JSON.stringify(source?.topic)}`, () => {
        if (sources.has(source.topic)) throw new InvalidArgumentError('is defined twice', {});
        sources.set(source.topic, new CompiledSource(source, limits));
      });
    }
    for (const view of definition?.views ?? []) {
      attempt(`view ${JSON.stringify(view?.name)}`, () => {
        if (views.has(view.name)) throw new InvalidArgumentError('is defined twice', {});
        const source = sources.get(view.source);
        if (!source) throw new InvalidArgumentError(`its source ${JSON.stringify(view.source)} is not a defined source`, {});
        const compiled = new CompiledView(view, source);
        views.set(view.name, compiled);
        const check = compiled.admissionCheck(limits);
        if (check) source.addViewCheck(check);
      });
    }
    if (problems.length > 0) throw new CatalogError(problems);
    return new Catalog(sources, views, limits);
  }

  /** The views fed by a topic. */
  viewsOf(topic: string): CompiledView[] {
    return [...this.views.values()].filter((view) => view.source.topic === topic);
  }
}
