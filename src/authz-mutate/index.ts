export { generateMutants, mutatedFiles, MUTATION_OPERATORS, type Mutant, type MutationOperator } from './operators.js';
export { readPolicySource, type PolicySource, type SourcePolicy } from './policy-source.js';
