package gateway

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// BenchmarkBreadthLimit is the check's cost on a document the parsed-query
// cache does not hold: a dashboard's query (three connections over an
// interface with inline fragments, and a stats query).
func BenchmarkBreadthLimit(b *testing.B) {
	const page = `edges { cursor node { __typename id type createdAt
		... on EmailActivity { subject campaign { id name } lead { id email firstName lastName } }
		... on LinkedInActivity { campaign { id name } lead { id email } }
		... on CallActivity { lead { id email } } } } pageInfo { hasNextPage endCursor }`
	q := "query Dashboard { recent: activities(first: 50) { " + page + " } opened: activities(first: 20, filter: {types: [emailsOpened]}) { " + page +
		" } replied: activities(first: 20, filter: {types: [emailsReplied]}) { " + page + " } activityStats(groupBy: [CAMPAIGN]) { total groups { key count } } }"
	l := breadthLimit{tokenLimit: 15000}
	raw := &graphql.RawParams{Query: q}
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		if err := l.MutateOperationParameters(context.Background(), raw); err != nil {
			b.Fatal(err)
		}
	}
}
