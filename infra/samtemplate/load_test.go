package samtemplate_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/infra/samtemplate"
)

const synthetic = `
Transform: AWS::Serverless-2016-10-31
Parameters:
  Level: {Type: String, Default: DEBUG}
  Days: {Type: Number, Default: 7}
Globals:
  Function:
    Runtime: provided.al2023
    Handler: bootstrap
    Architectures: [arm64]
    Environment:
      Variables:
        TABLE_NAME: !Ref Store
        LEVEL: !Ref Level
Resources:
  Store:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Api:
    Type: AWS::Serverless::HttpApi
  Zeta:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Runtime: go1.x
      Architectures: [x86_64]
      Environment:
        Variables:
          LEVEL: override
          EXTRA: !Sub "${Store.Arn}/x/${Days}/${AWS::Region}/${!Literal}/${Named}"
      Events:
        Any:
          Type: HttpApi
        Get:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: get, Path: "/items/{id}"}
      Policies:
        - AWSLambdaBasicExecutionRole
        - DynamoDBReadPolicy: {TableName: !Ref Store}
        - Statement:
            Effect: Allow
            Action: dynamodb:GetItem
            Resource: !GetAtt [Store, Arn]
  Alpha:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: makefile}
    Properties:
      CodeUri: .
      Events:
        Post:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: POST, Path: /items}
        Tick:
          Type: Schedule
          Properties: {Schedule: rate(1 hour)}
`

func TestLoadSynthetic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(synthetic), 0o644); err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(path)
	if err != nil {
		t.Fatal(err)
	}

	wantRoutes := []samtemplate.Route{
		{Method: "ANY", Path: "$default", Function: "Zeta"},
		{Method: "POST", Path: "/items", Function: "Alpha"},
		{Method: "GET", Path: "/items/{id}", Function: "Zeta"},
	}
	if d := cmp.Diff(wantRoutes, tpl.Routes()); d != "" {
		t.Errorf("routes (-want +got):\n%s", d)
	}

	wantFunctions := []samtemplate.Function{
		{
			LogicalID: "Alpha", CodeURI: ".", Handler: "bootstrap", Runtime: "provided.al2023", BuildMethod: "makefile",
			Architectures: []string{"arm64"},
			Env:           map[string]string{"TABLE_NAME": "Store", "LEVEL": "DEBUG"},
			Schedules:     []string{"rate(1 hour)"},
		},
		{
			LogicalID: "Zeta", CodeURI: ".", Handler: "bootstrap", Runtime: "go1.x", // the function's scalar wins
			Architectures: []string{"arm64", "x86_64"}, // lists concatenate, Globals first
			Env: map[string]string{ // maps merge, the function's keys win
				"TABLE_NAME": "Store",
				"LEVEL":      "override",
				"EXTRA":      "${Store.Arn}/x/7/us-east-1/${Literal}/${Named}",
			},
			Statements: []samtemplate.Statement{{
				Effect: "Allow", Action: []string{"dynamodb:GetItem"}, Resource: []string{"${Store.Arn}"},
			}},
			OtherPolicies: []string{"AWSLambdaBasicExecutionRole", "DynamoDBReadPolicy"},
		},
	}
	if d := cmp.Diff(wantFunctions, tpl.Functions()); d != "" {
		t.Errorf("functions (-want +got):\n%s", d)
	}
	zeta, _ := tpl.CloudFormation().GetServerlessFunctionWithName("Zeta")
	if zeta == nil || len(zeta.Architectures) != 1 {
		t.Errorf("CloudFormation() must stay unmerged, got %v", zeta)
	}
	if f, _ := tpl.Function("Zeta"); f.Package() != "./functions/zeta" {
		t.Errorf("Package() = %q", f.Package())
	}
}

func TestLoadRejectsDuplicateRoutes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "template.yaml")
	src := `
Resources:
  A:
    Type: AWS::Serverless::Function
    Properties:
      Events: {E: {Type: HttpApi, Properties: {Method: GET, Path: /x}}}
  B:
    Type: AWS::Serverless::Function
    Properties:
      Events: {E: {Type: HttpApi, Properties: {Method: get, Path: /x}}}
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := samtemplate.Load(path); err == nil {
		t.Error("Load accepted GET /x served by two functions")
	}
}

func TestFindTemplate(t *testing.T) {
	p, err := samtemplate.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	for _, f := range []string{"template.yaml", "go.mod"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if filepath.Base(p) != "template.yaml" {
		t.Errorf("FindTemplate() = %q", p)
	}
}
