import { InvalidArgumentError } from '../../errors/errors.js';

/** An expression that does not parse or does not type-check; the message points at the spot. */
export class ExpressionError extends InvalidArgumentError {
  override readonly code = 'INVALID_EXPRESSION';

  constructor(problem: string, expression: string, at: number) {
    super(`In ${JSON.stringify(expression)} at position ${at + 1}: ${problem}`, { expression, at, problem });
  }
}
