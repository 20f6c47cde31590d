package redistest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	dc "github.com/ory/dockertest/v3/docker"
)

// No registry is assumed to be reachable, so the image is never pulled. It is
// built FROM scratch out of the host's redis-server and the shared libraries
// it links, and tagged with a hash of all of them: identical binaries share
// one image across test binaries and runs, and an upgraded redis-server gets
// a new one.

const imageRepo = "justredis-redistest/redis-server"

// imageMu keeps parallel tests in one binary from building the same image
// at once; other binaries may still race us, which buildImage tolerates.
var imageMu sync.Mutex

// ensureImage returns the image name, building the image if it is missing.
func ensureImage(client *dc.Client, bin string) (string, error) {
	files, err := imageFiles(bin)
	if err != nil {
		return "", err
	}
	dockerfile := dockerfileFor(files)
	tag, err := imageTag(files, dockerfile)
	if err != nil {
		return "", err
	}
	name := imageRepo + ":" + tag

	imageMu.Lock()
	defer imageMu.Unlock()
	if _, err := client.InspectImage(name); err == nil {
		return name, nil
	} else if !errors.Is(err, dc.ErrNoSuchImage) {
		return "", fmt.Errorf("inspecting image %s: %w", name, err)
	}
	if err := buildImage(client, name, bin, files, dockerfile); err != nil {
		// Another test binary may have built the same tag meanwhile.
		if _, ierr := client.InspectImage(name); ierr == nil {
			return name, nil
		}
		return "", err
	}
	return name, nil
}

// imageFiles maps paths inside the image to paths on the host: the binary,
// every library ldd reports and the dynamic loader.
func imageFiles(bin string) (map[string]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w (the docker backend needs a dynamically linked Linux redis-server)", bin, err)
	}
	files := map[string]string{"/usr/bin/redis-server": bin}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// Lines look like "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)"
		// or "/lib64/ld-linux-x86-64.so.2 (0x...)"; the vdso has no file.
		if strings.Contains(sc.Text(), "not found") {
			return nil, fmt.Errorf("ldd %s: %s", bin, strings.TrimSpace(sc.Text()))
		}
		fields := strings.Fields(sc.Text())
		for _, f := range fields {
			if strings.HasPrefix(f, "/") {
				files[f] = f
				break
			}
		}
	}
	if len(files) == 1 {
		return nil, fmt.Errorf("ldd %s listed no libraries", bin)
	}
	return files, nil
}

func dockerfileFor(files map[string]string) string {
	dirs := map[string]bool{}
	for dst := range files {
		if dst != "/usr/bin/redis-server" {
			dirs[filepath.Dir(dst)] = true
		}
	}
	// Without ld.so.cache in the image the loader only knows its built-in
	// directories, so point it at wherever the host keeps the libraries.
	var libPath []string
	for d := range dirs {
		libPath = append(libPath, d)
	}
	sort.Strings(libPath)
	return "FROM scratch\n" +
		"COPY rootfs/ /\n" +
		"ENV LD_LIBRARY_PATH=" + strings.Join(libPath, ":") + "\n" +
		"LABEL org.justredis.redistest=image\n" +
		"ENTRYPOINT [\"/usr/bin/redis-server\"]\n"
}

func imageTag(files map[string]string, dockerfile string) (string, error) {
	h := sha256.New()
	io.WriteString(h, dockerfile)
	dsts := make([]string, 0, len(files))
	for dst := range files {
		dsts = append(dsts, dst)
	}
	sort.Strings(dsts)
	for _, dst := range dsts {
		f, err := os.Open(files[dst])
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "\x00%s\x00", dst)
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

// buildImage assembles the build context in a temporary directory; copies
// (not links) resolve the host's library symlinks to real files.
func buildImage(client *dc.Client, name, bin string, files map[string]string, dockerfile string) error {
	ctx, err := os.MkdirTemp("", "redistest-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(ctx)
	for dst, src := range files {
		if err := copyFile(src, filepath.Join(ctx, "rootfs", dst)); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	var log bytes.Buffer
	err = client.BuildImage(dc.BuildImageOptions{
		Name:                name,
		Dockerfile:          "Dockerfile",
		ContextDir:          ctx,
		OutputStream:        &log,
		RmTmpContainer:      true,
		ForceRmTmpContainer: true,
		NetworkMode:         "none",
	})
	if err != nil {
		return fmt.Errorf("building image %s from %s: %w\n%s", name, bin, err, tail(log.String(), 20))
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
