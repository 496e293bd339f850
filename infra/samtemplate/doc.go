// Package samtemplate loads the project's AWS SAM template (template.yaml)
// with goformation and answers the questions the local stack and the tests
// ask of it: which HTTP API routes exist and which function serves each, and
// how each function is built, configured and permitted.
//
// goformation parses a SAM template but leaves three gaps that this package
// fills:
//
//   - Intrinsic functions are resolved symbolically: !Ref to a resource yields
//     its logical id ("Table"), !Ref to a parameter yields its default,
//     !GetAtt yields "${Resource.Attribute}", and !Sub substitutes those same
//     values while keeping "${Resource.Attribute}" references as written, so
//     that !Sub "${Bucket.Arn}/raw/*" reads "${Bucket.Arn}/raw/*". Pseudo
//     parameters take goformation's sample values (region us-east-1,
//     account 123456789012), plus partition "aws" and URL suffix
//     "amazonaws.com".
//   - The Globals section is merged into every AWS::Serverless::Function with
//     SAM's rules: the function's scalar properties win, maps are merged
//     (function keys win), lists are concatenated (Globals entries first).
//   - Inline IAM policy statements are returned as plain values (Statement),
//     since goformation cannot tell inline documents from SAM policy
//     templates.
//
// Conditions (!If) are not evaluated; values behind them read as nil.
package samtemplate
