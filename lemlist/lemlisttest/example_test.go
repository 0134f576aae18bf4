package lemlisttest_test

import (
	"context"
	"fmt"
	"net/url"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

func Example() {
	srv := lemlisttest.NewServer(lemlisttest.Options{
		Dataset: lemlisttest.DatasetOptions{Seed: 1, Activities: 200},
	})
	defer srv.Close()

	client := srv.Client()
	page, _, err := client.Activities.List(context.Background(), &lemlist.ActivityListOptions{
		Type:  "emailsOpened",
		Limit: 3,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range page {
		fmt.Println(a.ID, a.Type, a.CreatedAt.Format("2006-01-02T15:04:05.000Z"))
	}

	// Expected returns what the fake serves for a filter, unpaged.
	want, _ := srv.Expected(url.Values{"type": {"emailsOpened"}})
	fmt.Println(len(want), want[0].ID == page[0].ID)
	fmt.Println(srv.CountRequests("/activities"), "request(s)")
	// Output:
	// act_45wTDJu6sQHFU0wwc emailsOpened 2026-10-01T00:00:00.000Z
	// act_1vI8mAWMZppa5dLMI emailsOpened 2026-09-30T14:13:27.183Z
	// act_RPIpU2tcP4ZGxRMLB emailsOpened 2026-09-29T20:10:46.632Z
	// 61 true
	// 1 request(s)
}
