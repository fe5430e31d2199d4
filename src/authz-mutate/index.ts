export { generateMutants, mutatedFiles, MUTATION_OPERATORS, type Mutant, type MutationOperator } from './operators.js';
export { readPolicySource, type PolicySource, type SourcePolicy } from './policy-source.js';
export { judgeWithMatrix, type MatrixJudge, type MatrixVerdict } from './matrix-server.js';
export {
  formatMutationReport,
  runMutation,
  type EquivalentRecord,
  type MutantResult,
  type MutationReport,
} from './runner.js';
export { DEFAULT_EQUIVALENTS, readEquivalents } from './equivalents.js';
