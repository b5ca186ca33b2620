/**
 * A view's derived fields as the JS fold evaluates them: computed once per record into slots the view
 * owns, and read from there by the view's other expressions. Copying the record to add them (a spread
 * per record, then a dictionary-mode object as wide as the event) cost a sixth of the speed layer's fold
 * for the demo's `slow_pages`, and a prototype chain over the record was slower still.
 *
 * The slots hold one record's values at a time: `compute` fills them, and whatever reads them must do so
 * before the next `compute`, which JS's single thread and the fold's synchronous steps ensure.
 */
import type { Value } from './expression/ast.js';
import type { CompiledExpression, Evaluator, Row } from './expression/compile.js';

export class DerivedFields {
  private readonly values: Value[] = [];
  /** Derived field name → an evaluator reading its slot. */
  private readonly readers = new Map<string, Evaluator>();
  /** Per derived field, in definition order: its expression, reading earlier derived fields from their slots. */
  private readonly evaluators: Evaluator[] = [];

  constructor(derived: readonly { name: string; expression: CompiledExpression }[]) {
    derived.forEach(({ name, expression }, i) => {
      // Bound before this field's reader is added: a derived field sees only the fields before it.
      this.evaluators.push(expression.evaluateWith(this.readers));
      this.values.push(null);
      const values = this.values;
      this.readers.set(name, () => values[i]!);
    });
  }

  get isEmpty(): boolean {
    return this.evaluators.length === 0;
  }

  /** An expression of the view as a function of the record's own fields, its derived fields read from the slots. */
  bind(expression: CompiledExpression): Evaluator {
    return this.isEmpty ? expression.evaluate : expression.evaluateWith(this.readers);
  }

  /** Computes the derived fields of one record into the slots, in order. */
  compute(fields: Row): void {
    const evaluators = this.evaluators;
    for (let i = 0; i < evaluators.length; i++) this.values[i] = evaluators[i]!(fields);
  }
}
