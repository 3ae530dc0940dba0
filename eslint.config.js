// ESLint for `npm run lint` (Prettier, run after it, owns the layout): docs/architecture.md#lint-and-format.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const typescript = ['**/*.ts', '**/*.mts', '**/*.cts'];
const javascript = ['**/*.js', '**/*.mjs', '**/*.cjs'];

export default defineConfig(
  { ignores: ['dist/', 'coverage/', 'bench/results/', 'test-artifacts/'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error', reportUnusedInlineConfigs: 'error' } },

  js.configs.recommended,
  {
    rules: {
      // Prettier wraps code at 120 but never a comment: this holds comments and JSDoc to the same width.
      // Strings, template literals, regexps and URLs are left whole (an error message reads better unbroken).
      // max-len leaves ESLint core in 11 (@stylistic/eslint-plugin's max-len takes these options as they are).
      'max-len': [
        'error',
        { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
      ],
    },
  },

  // TypeScript: the type-aware recommended rules, types from tsconfig.json (its include: src, test, bench, scripts).
  {
    files: typescript,
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Off: every function it reported must return a promise without awaiting anything: Fastify's async plugins and
      // handlers (the async form is how they signal completion), and implementations of promise-returning
      // interfaces. Dropping `async` would turn their throws into synchronous ones. A forgotten await, the bug
      // behind this rule, is no-floating-promises' to catch.
      '@typescript-eslint/require-await': 'off',
      // As tsc's noUnusedLocals/noUnusedParameters: `_` marks an unused parameter, and
      // `const { omitted: _, ...rest } = x` drops a property.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Passing on a caught value as it came (`catch (err) { return Promise.reject(err) }`) is allowed, as
      // only-throw-error allows `throw err`: the rule is for inventing a reason that is not an Error.
      '@typescript-eslint/prefer-promise-reject-errors': [
        'error',
        { allowThrowingAny: true, allowThrowingUnknown: true },
      ],
      // Promise.all over a Map's promises where a missing key gives undefined is deliberate; an array
      // holding no promise at all is still reported.
      '@typescript-eslint/await-thenable': ['error', { allowMixedPromiseArrays: true }],
    },
  },
  {
    files: ['test/**'],
    rules: {
      // Tests read answers untyped (light-my-request's `json()`, JSON.parse) and check them with expect on the
      // next line: a wrong guess at a field fails the test anyway, and typing each answer would write the wire
      // schemas a second time. src and bench keep these rules.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },

  // Plain JavaScript (this file, bench's worker and sampler, models/verify_models.cjs) is outside tsconfig.json's
  // program: ESLint's own recommended rules, with the globals of the Node running it.
  {
    files: javascript,
    languageOptions: {
      globals: Object.fromEntries(Object.getOwnPropertyNames(globalThis).map((name) => [name, 'readonly'])),
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { __dirname: 'readonly', __filename: 'readonly' } },
  },
);
